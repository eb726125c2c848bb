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
 * Flow tables: arrays of slots, open addressing. A flow's key hashes to a home
 * slot, and the flow is in the first slot of the BPTRAF_FLOW_PROBES from there
 * whose key is its own; a lookup stops at an empty slot, where a new flow
 * claims it. An array lookup is inlined by the kernel, so a hit is a hash of
 * the key's words, one slot's key compared and two atomic adds, with no call
 * into the kernel: a kernel hash map's lookup cost some 35-50 ns here
 * (bench/kernel/lookup.c measures it). Userspace reads the tables through
 * mmap (BPF_F_MMAPABLE), deletes a flow by zeroing its slot, the first key
 * word last, and folds in the rare second slot of one flow: two CPUs that
 * insert it at once, or a flow whose first packets went past a slot freed
 * since (bptraf/flowtable.py).
 *
 * When all the probed slots hold other flows, the packet is counted as
 * untracked (its totals stay exact) and `bptraf_flow_full` tells userspace,
 * which then evicts the least active flows.
 */
BPF_F_TABLE("array", __u32, struct bptraf_flow4_slot, bptraf_flows4, BPTRAF_FLOW_SLOTS, BPF_F_MMAPABLE);
BPF_F_TABLE("array", __u32, struct bptraf_flow6_slot, bptraf_flows6, BPTRAF_FLOW_SLOTS, BPF_F_MMAPABLE);
BPF_ARRAY(bptraf_flow_full, __u32, 2);	/* per table: 0 IPv4, 1 IPv6 */
BPF_PERCPU_ARRAY(bptraf_flow_stats, struct bptraf_flow_stats, 1);

/* A flow the table had no room for: its packets are counted as untracked, and userspace told. */
static __always_inline void flow_untracked(__u32 table, __u32 pkts, __u64 len)
{
	__u32 zero = 0;
	struct bptraf_flow_stats *st = bptraf_flow_stats.lookup(&zero);
	__u32 *full = bptraf_flow_full.lookup(&table);

	if (st) {
		st->untracked_packets += pkts;
		st->untracked_bytes += len;
	}
	if (full && !*full)	/* read first: the flag's cache line stays shared while it is set */
		*full = 1;
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

/*
 * Where a key's probe starts: a sum of its words times odd constants, its high
 * half folded into the low (a product's top bits see only the bits below them,
 * and addresses often differ in a word's top bytes), times a constant again;
 * the top bits of that.
 */
static __always_inline __u32 flow_home(const __u64 *k, const int words)
{
	const __u64 mix[5] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL, 0x165667B19E3779F9ULL,
			      0xD6E8FEB86659FD93ULL, 0xFF51AFD7ED558CCDULL};
	__u64 x = 0;

#pragma unroll
	for (int i = 0; i < words; i++)
		x += k[i] * mix[i];
	x ^= x >> 32;
	return (x * 0x9E3779B97F4A7C15ULL) >> (64 - BPTRAF_FLOW_BITS);
}

static __always_inline int flow_same(const __u64 *w, const __u64 *k, const int words)
{
#pragma unroll
	for (int i = 0; i < words; i++)
		if (w[i] != k[i])
			return 0;
	return 1;
}

/*
 * Fill in a slot this program claimed for key k (its first word swapped from zero
 * to `claimed`, state CLAIMED) and count the frame in it: the counts and the
 * other key words, then the first word published with state USED.
 */
static __always_inline void flow_fill(__u64 *w, struct bptraf_flow *f, const __u64 *k, const int words, __u32 pkts,
				      __u64 len, const int tx)
{
	/* Stored, not added: an add that raced with userspace zeroing the slot may have left counts. */
	f->packets = tx ? 0 : pkts;
	f->bytes = tx ? 0 : len;
	f->tx_packets = tx ? pkts : 0;
	f->tx_bytes = tx ? len : 0;
#pragma unroll
	for (int i = 1; i < words; i++)
		w[i] = k[i];
	__sync_lock_test_and_set(&w[0], k[0]);	/* an atomic swap: ordered after the stores above */
}

/*
 * Count a frame under key k (2 words: IPv4, 5: IPv6, a compile-time constant
 * that picks the table); k's state is set here. A slot is its key's words,
 * then the counts.
 */
static __always_inline void track_key(__u64 *k, const int words, __u32 pkts, __u64 len, const int tx)
{
	__u8 *state = (__u8 *)k + 7;	/* bptraf_flow4_key/bptraf_flow6_key .state */
	__u64 claimed;
	__u32 home;

	*state = BPTRAF_FLOW_CLAIMED;
	claimed = k[0];
	*state = BPTRAF_FLOW_USED;
	home = flow_home(k, words);	/* of the whole key, its state set */
#pragma unroll
	for (__u32 p = 0; p < BPTRAF_FLOW_PROBES; p++) {
		__u32 at = (home + p) & (BPTRAF_FLOW_SLOTS - 1);
		/* bcc resolves a map only where it is named: both are, and `words` leaves one */
		__u64 *w = words == 5 ? (__u64 *)bptraf_flows6.lookup(&at) : (__u64 *)bptraf_flows4.lookup(&at);
		struct bptraf_flow *f;

		if (!w)
			break;
		f = (struct bptraf_flow *)(w + words);
		if (flow_same(w, k, words)) {
			flow_add(f, pkts, len, tx);
			return;
		}
		/* An empty slot: take it, unless another CPU just did (then look on). */
		if (w[0] == 0 && __sync_val_compare_and_swap(&w[0], 0, claimed) == 0) {
			flow_fill(w, f, k, words, pkts, len, tx);
			return;
		}
	}
	flow_untracked(words == 5, pkts, len);
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
		 * unaligned; the key on the stack must be aligned for word loads.
		 */
		struct bptraf_flow6_key key __attribute__((aligned(8)));
		__u32 *k = (__u32 *)key.src, *src = (__u32 *)ip6->saddr, *dst = (__u32 *)ip6->daddr;

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
		track_key((__u64 *)&key, 5, pkts, len, tx);
	} else {
		struct bptraf_ipv4 *ip = l3;
		struct bptraf_flow4_key key __attribute__((aligned(8)));

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
		track_key((__u64 *)&key, 2, pkts, len, tx);
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
