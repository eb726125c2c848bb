/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ceiling for any drop counter: drop, and do nothing else. Bench-only. */
int bench_bare_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}
