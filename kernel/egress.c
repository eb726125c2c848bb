/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bptraf: count every frame the host sends, on tc egress (attached through a
 * tcx link), in the classes and size buckets count.c uses for received
 * frames. It returns TC_ACT_UNSPEC, so it never changes a verdict: the next
 * tcx program, or the default, decides.
 *
 * Wire counts under GSO/TSO: a GSO packet counts as its gso_segs segments,
 * and its bytes are the kernel's wire_len, which __dev_queue_xmit computes
 * before the egress hook (qdisc_pkt_len_init): skb->len plus the L2-L4
 * header length once more for every segment after the first, so each
 * segment's headers are counted as the wire carries them. The size
 * histogram gets each segment's own size.
 */
#include "counters.h"
#include "proto.h"

#define TC_ACT_UNSPEC -1

BPF_PERCPU_ARRAY(bptraf_tx_stats, struct bptraf_stats, BPTRAF_NIFACES);

/*
 * The flows entry points key a sent frame into count.c's flow tables, source
 * and destination swapped (BPTRAF_TX_ON), so it adds to the tx side of the
 * conversation its replies arrive on. Built after count.c in one unit
 * (bptraf/loader.py), the parser, the tables and track_flow are there
 * already; the stub below only makes this file compile alone, where the
 * flows variants then count no flows.
 */
#ifndef BPTRAF_PARSE_H
static __always_inline void track_flow(__u32 slot, void *l3, void *l4, void *end, int v6, int proto, __u32 pkts,
				       __u64 len, const int features)
{
}

#include "parse.h"
#endif

/*
 * A GSO packet's segments by size: all but the last carry gso_size bytes of
 * payload behind the headers, the last carries what is left.
 */
static __always_inline void gso_sizes(struct bptraf_stats *s, __u32 segs, __u64 wire, __u64 len, __u32 gso_size)
{
	__u64 full = gso_size + (wire - len) / (segs - 1);

	s->sizes[size_bucket(full)] += segs - 1;
	s->sizes[size_bucket(wire - (segs - 1) * full)]++;
}

/*
 * The segments of a GSO packet whose gso_segs was left at 0 (one from an
 * untrusted source such as a VM's tap, SKB_GSO_DODGY: the kernel counts
 * them itself for wire_len). Its len holds the headers once and the payload:
 * ceil(len / gso_size) overcounts by at most one, and the header length that
 * count implies tells whether it did, unless the last segment is within a
 * header length of full (then it stays one over).
 */
static __always_inline __u32 dodgy_segs(__u64 len, __u64 wire, __u32 gso_size)
{
	__u32 segs;

	if (!gso_size)
		return 2;
	segs = (len + gso_size - 1) / gso_size;
	if (segs <= 2)
		return 2;
	return (len - (wire - len) / (segs - 1) + gso_size - 1) / gso_size == segs ? segs : segs - 1;
}

static __always_inline int count_tx(struct __sk_buff *skb, __u32 slot, const int features)
{
	struct bptraf_stats *s = bptraf_tx_stats.lookup(&slot);
	void *data, *end;
	__u64 len, wire;
	__u32 segs = 1, gso_size = 0;

	if (!s)
		return TC_ACT_UNSPEC;
	/*
	 * The context is read after the lookup, a helper call as the compiler
	 * sees it: read before, data_end, len and skb itself outlived the call
	 * on the stack and were reloaded at every bounds check.
	 */
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	len = skb->len;
	wire = skb->wire_len;
	/*
	 * Only a GSO packet of two or more segments is longer on the wire than
	 * in the skb, so other frames never touch the shared info that gso_*
	 * live in.
	 */
	if (wire > len) {
		gso_size = skb->gso_size;
		segs = skb->gso_segs;
		if (segs < 2)
			segs = dodgy_segs(len, wire, gso_size);
	} else {
		wire = len;
	}
	/*
	 * Sizes before classify: its paths then start from one state, not one
	 * per GSO case (the sizes+flows variant verified 120k instructions the
	 * other way round, 31k this way).
	 */
	if (features & BPTRAF_SIZES_ON) {
		if (segs > 1)
			gso_sizes(s, segs, wire, len, gso_size);
		else
			s->sizes[size_bucket(wire)]++;
	}
	/*
	 * A VLAN tag the driver inserts (skb->vlan_*) is not in the frame data;
	 * classify counts a frame with one in `vlan` once, tagged inline or not.
	 */
	classify_tagged(s, slot, data, end, segs, wire, features & ~BPTRAF_SIZES_ON, skb->vlan_present);
	return TC_ACT_UNSPEC;
}

/* Entry points by feature set; bptraf/loader.py's _PROGRAMS names the same four. */
#define BPTRAF_TX_FLOWS (BPTRAF_FLOWS_ON | BPTRAF_TX_ON)
#undef BPTRAF_PROG
#define BPTRAF_PROG(n) \
	int bptraf_egress_##n(struct __sk_buff *skb) { return count_tx(skb, n, 0); } \
	int bptraf_egress_sizes_##n(struct __sk_buff *skb) { return count_tx(skb, n, BPTRAF_SIZES_ON); } \
	int bptraf_egress_flows_##n(struct __sk_buff *skb) { return count_tx(skb, n, BPTRAF_TX_FLOWS); } \
	int bptraf_egress_sizes_flows_##n(struct __sk_buff *skb) \
	{ return count_tx(skb, n, BPTRAF_SIZES_ON | BPTRAF_TX_FLOWS); }
#include "slots.h"
