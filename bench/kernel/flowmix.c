/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bptraf's counting program with flows, behind a wrapper that gives every run
 * a new flow: it writes a counter (0 .. BENCH_FLOWS - 1, then round again)
 * into the low 32 bits of the frame's source address before counting. With
 * BENCH_FLOWS 1 every run hits the same flow; with 100000 and a smaller table
 * almost every run misses. Test runs reuse one frame buffer, so the write
 * sticks from run to run. Bench-only: bench/testrun.py compiles it appended
 * to kernel/count.c (bcc rewrites map calls in the main file only, so the
 * two are one text rather than an #include).
 */

#ifndef BENCH_FLOWS
#define BENCH_FLOWS 1
#endif

BPF_PERCPU_ARRAY(bench_flow_next, __u32, 1);

int bench_flowmix(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bptraf_eth *eth = data;
	__u32 zero = 0, *next = bench_flow_next.lookup(&zero);
	__u32 n;

	if (!next || data + 14 + 40 > end)
		return XDP_ABORTED;
	n = *next + 1 < BENCH_FLOWS ? *next + 1 : 0;
	*next = n;
	/* IPv4 saddr at 14 + 12; the last word of the IPv6 saddr at 14 + 8 + 12. */
	if (eth->proto == bpf_htons(BPTRAF_ETH_P_IP))
		*(__u32 *)(data + 26) = n;
	else
		*(__u32 *)(data + 34) = n;
	return count(ctx, 0, BPTRAF_FLOWS_ON);
}
