/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The floor for any tc egress counter: pass the frame on (TC_ACT_UNSPEC), do nothing else. Bench-only. */
int bench_bare_tc(struct __sk_buff *skb)
{
	return -1;
}
