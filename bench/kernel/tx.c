/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench traffic generator: send every test-run frame back out of the generator's veth. */
int bench_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}
