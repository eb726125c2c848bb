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
BPF_TABLE("lru_percpu_hash", struct bptraf_flow_key, struct bptraf_flow, bptraf_flows, BPTRAF_FLOWS_MAX);

static __always_inline void track_flow(__u32 slot, void *l3, void *l4, void *end, int v6, int proto, __u64 len)
{
	struct bptraf_flow_key key = {};
	struct bptraf_flow *f;
	__u64 now;

	if (v6) {
		struct bptraf_ipv6 *ip6 = l3;

		if ((void *)(ip6 + 1) > end)
			return;
		__builtin_memcpy(key.src, ip6->saddr, 16);
		__builtin_memcpy(key.dst, ip6->daddr, 16);
	} else {
		struct bptraf_ipv4 *ip = l3;

		if ((void *)(ip + 1) > end)
			return;
		key.src[10] = key.src[11] = key.dst[10] = key.dst[11] = 0xff;
		__builtin_memcpy(&key.src[12], &ip->saddr, 4);
		__builtin_memcpy(&key.dst[12], &ip->daddr, 4);
	}
	key.proto = proto;
	key.slot = slot;
	if (l4 && l4 + 4 <= end &&
	    (proto == BPTRAF_IPPROTO_TCP || proto == BPTRAF_IPPROTO_UDP || proto == BPTRAF_IPPROTO_SCTP)) {
		key.sport = *(__be16 *)l4;
		key.dport = *(__be16 *)(l4 + 2);
	}

	now = bpf_ktime_get_coarse_ns();
	f = bptraf_flows.lookup(&key);
	if (f) {
		/* Another CPU may have created the entry: this CPU's value then starts at zero. */
		if (!f->first_ns)
			f->first_ns = now;
		f->packets++;
		f->bytes += len;
		f->last_ns = now;
	} else {
		struct bptraf_flow fresh = { .packets = 1, .bytes = len, .first_ns = now, .last_ns = now };

		bptraf_flows.update(&key, &fresh);
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
