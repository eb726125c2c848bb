/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bptraf: count every received frame by protocol and size, then pass it on.
 * The parser and the classes are in parse.h.
 *
 * Each interface slot has one entry point per feature set: plain counting,
 * + the frame-size histogram, + per-flow sums, + both. The features are
 * compile-time constants, so a switched-off feature is not in the program at
 * all; userspace switches by swapping the program behind the XDP link.
 */
#include "counters.h"
#include "proto.h"

BPF_PERCPU_ARRAY(bptraf_stats, struct bptraf_stats, BPTRAF_NIFACES);
/*
 * Flow tables: plain (not LRU) hashes. An LRU insert into a full table evicts
 * under locks and costs many times a hit; here a full table refuses the insert,
 * and `bptraf_flow_full` then keeps every CPU from retrying until userspace,
 * which evicts the least active flows in batches, clears it.
 *
 * A hit is one hash lookup and two atomic adds; the full flag and the
 * untracked counters are looked at only on a miss. The lookup is nearly all
 * of a hit's cost: the kernel hashes and compares the key in out-of-line
 * functions, and on a CPU whose mitigations make every kernel return slow it
 * costs some 40 ns even for a 4-byte key (bench/kernel/lookup.c measures it).
 * The atomic adds, a preallocated table against BPF_F_NO_PREALLOC, and a
 * per-CPU value against the shared one measured within noise of each other.
 */
BPF_HASH(bptraf_flows4, struct bptraf_flow4_key, struct bptraf_flow, BPTRAF_FLOWS_MAX);
BPF_HASH(bptraf_flows6, struct bptraf_flow6_key, struct bptraf_flow, BPTRAF_FLOWS_MAX);
BPF_ARRAY(bptraf_flow_full, __u32, 2);	/* per table: 0 IPv4, 1 IPv6 */
BPF_PERCPU_ARRAY(bptraf_flow_stats, struct bptraf_flow_stats, 1);

/* A flow not in its table: insert it, or count it as untracked when the table is full. */
static __always_inline void flow_untracked(__u32 pkts, __u64 len)
{
	__u32 zero = 0;
	struct bptraf_flow_stats *st = bptraf_flow_stats.lookup(&zero);

	if (st) {
		st->untracked_packets += pkts;
		st->untracked_bytes += len;
	}
}

static __always_inline void flow_full(__u32 table)
{
	__u32 *full = bptraf_flow_full.lookup(&table);

	if (full)
		*full = 1;
}

static __always_inline int flow_table_full(__u32 table)
{
	__u32 *full = bptraf_flow_full.lookup(&table);

	return full && *full;
}

/* Frames more for a flow, on its received or (tx, a compile-time constant) sent side; its value is shared by
 * every CPU, hence atomic adds. */
static __always_inline void flow_add(struct bptraf_flow *f, __u32 pkts, __u64 len, const int tx)
{
	if (tx) {
		__sync_fetch_and_add(&f->tx_packets, pkts);
		__sync_fetch_and_add(&f->tx_bytes, len);
	} else {
		__sync_fetch_and_add(&f->packets, pkts);
		__sync_fetch_and_add(&f->bytes, len);
	}
}

static __always_inline struct bptraf_flow flow_fresh(__u32 pkts, __u64 len, const int tx)
{
	struct bptraf_flow f = {};

	if (tx) {
		f.tx_packets = pkts;
		f.tx_bytes = len;
	} else {
		f.packets = pkts;
		f.bytes = len;
	}
	return f;
}

/* bcc resolves a map only where it is named, so the two tables get one function each. */
static __always_inline void track_flow4(struct bptraf_flow4_key *key, __u32 pkts, __u64 len, const int tx)
{
	struct bptraf_flow *f = bptraf_flows4.lookup(key);

	if (f) {
		flow_add(f, pkts, len, tx);
		return;
	}
	if (!flow_table_full(0)) {
		struct bptraf_flow fresh = flow_fresh(pkts, len, tx);

		/* NOEXIST: another CPU may have inserted it meanwhile; then add to that entry. */
		if (bptraf_flows4.insert(key, &fresh) == 0)
			return;
		f = bptraf_flows4.lookup(key);
		if (f) {
			flow_add(f, pkts, len, tx);
			return;
		}
		flow_full(0);
	}
	flow_untracked(pkts, len);
}

static __always_inline void track_flow6(struct bptraf_flow6_key *key, __u32 pkts, __u64 len, const int tx)
{
	struct bptraf_flow *f = bptraf_flows6.lookup(key);

	if (f) {
		flow_add(f, pkts, len, tx);
		return;
	}
	if (!flow_table_full(1)) {
		struct bptraf_flow fresh = flow_fresh(pkts, len, tx);

		if (bptraf_flows6.insert(key, &fresh) == 0)
			return;
		f = bptraf_flows6.lookup(key);
		if (f) {
			flow_add(f, pkts, len, tx);
			return;
		}
		flow_full(1);
	}
	flow_untracked(pkts, len);
}

/*
 * A frame sent (BPTRAF_TX_ON) is keyed as its reply would arrive, source and
 * destination swapped, so both directions of a conversation share one entry.
 */
static __always_inline void track_flow(__u32 slot, void *l3, void *l4, void *end, int v6, int proto, __u32 pkts,
				       __u64 len, const int features)
{
	const int tx = features & BPTRAF_TX_ON;
	__be16 sport = 0, dport = 0;

	if (l4 && l4 + 4 <= end &&
	    (proto == BPTRAF_IPPROTO_TCP || proto == BPTRAF_IPPROTO_UDP || proto == BPTRAF_IPPROTO_SCTP)) {
		sport = *(__be16 *)(tx ? l4 + 2 : l4);
		dport = *(__be16 *)(tx ? l4 : l4 + 2);
	}
	if (v6) {
		struct bptraf_ipv6 *ip6 = l3;
		/*
		 * The addresses are copied a 32-bit word at a time: copied as bytes
		 * (their declared type), they took some 45 instructions of 16-bit
		 * loads, shifts and ors per packet. XDP and tc may read packets
		 * unaligned; the key on the stack must be aligned for word stores.
		 */
		struct bptraf_flow6_key key __attribute__((aligned(8)));
		__u32 *k = (__u32 *)&key, *src = (__u32 *)ip6->saddr, *dst = (__u32 *)ip6->daddr;

		if ((void *)(ip6 + 1) > end)
			return;
		if (tx) {
			src = (__u32 *)ip6->daddr;
			dst = (__u32 *)ip6->saddr;
		}
#pragma unroll
		for (int i = 0; i < 4; i++) {
			k[i] = src[i];
			k[4 + i] = dst[i];
		}
		key.sport = sport;
		key.dport = dport;
		key.proto = proto;
		key.slot = slot;
		key.dir = 0;
		key.pad = 0;
		track_flow6(&key, pkts, len, tx);
	} else {
		struct bptraf_ipv4 *ip = l3;
		struct bptraf_flow4_key key;

		if ((void *)(ip + 1) > end)
			return;
		key.src = ip->saddr;
		key.dst = ip->daddr;
		if (tx) {
			key.src = ip->daddr;
			key.dst = ip->saddr;
		}
		key.sport = sport;
		key.dport = dport;
		key.proto = proto;
		key.slot = slot;
		key.dir = 0;
		key.pad = 0;
		track_flow4(&key, pkts, len, tx);
	}
}

#include "parse.h"

static __always_inline int count(struct xdp_md *ctx, __u32 slot, const int features)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bptraf_stats *s = bptraf_stats.lookup(&slot);

	if (s)
		classify(s, slot, data, end, 1, end - data, features);
	return XDP_PASS;
}

/* Entry points by feature set; bptraf/bpf.py's VARIANTS names the same four. */
#define BPTRAF_PROG(n) \
	int bptraf_count_##n(struct xdp_md *ctx) { return count(ctx, n, 0); } \
	int bptraf_count_sizes_##n(struct xdp_md *ctx) { return count(ctx, n, BPTRAF_SIZES_ON); } \
	int bptraf_count_flows_##n(struct xdp_md *ctx) { return count(ctx, n, BPTRAF_FLOWS_ON); } \
	int bptraf_count_sizes_flows_##n(struct xdp_md *ctx) \
	{ return count(ctx, n, BPTRAF_SIZES_ON | BPTRAF_FLOWS_ON); }
#include "slots.h"
