/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bench traffic generator for the flow-table flood: every frame leaves with a new source port and
 * source address (a counter over 2^32 tuples), so each one is a new flow at the receiver. */
BPF_PERCPU_ARRAY(bench_tuple, __u32, 1);

int bench_tx_flood(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0, *n = bench_tuple.lookup(&zero);

	if (!n || data + 14 + 20 + 4 > end)
		return XDP_ABORTED;
	*n += 1;
	/* Source 198.18.x.y: the bench prefix. The IPv4 checksum goes stale; XDP counts the frame before
	 * the stack would check it, and the UDP checksum is 0 (none). */
	*(__u16 *)(data + 26) = bpf_htons(0xc612);
	*(__u16 *)(data + 30) = (__u16)(*n >> 16);
	*(__u16 *)(data + 34) = (__u16)*n;	/* UDP source port */
	return XDP_TX;
}
