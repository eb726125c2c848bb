/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The baseline for pass mode: an XDP program that passes every frame and does nothing else. Bench-only. */
int bench_bare_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
