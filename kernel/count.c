/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bptraf: count every received frame by protocol and size, then pass it on.
 *
 * Every frame counts in `all` and in exactly one L3 class; IPv4 and IPv6
 * frames also count in exactly one L4 class; frames with one or two VLAN
 * tags also count in `vlan`. A frame too short for a header it announces
 * keeps its L3 class and lands in `l4_other` (or `l3_other` when even the
 * ethertype is missing): nothing is read past data_end.
 *
 * IPv4 and IPv6 are classed by their protocol / last next-header field once
 * the L3 header (with IPv4 options, with IPv6 extension headers) is whole,
 * so non-first fragments, which carry no L4 header, keep their protocol.
 *
 * Each interface slot has one entry point per feature set: plain counting,
 * + the frame-size histogram, + per-flow sums, + both. The features are
 * compile-time constants, so a switched-off feature is not in the program at
 * all; userspace switches by swapping the program behind the XDP link.
 */
#include "counters.h"
#include "proto.h"

/* IPv6 extension headers walked before giving up (RFC 8200 order has at most 6). */
#define BPTRAF_IPV6_EXT_MAX 6
/* Returned by the L3 parsers when the header is cut short. */
#define BPTRAF_TRUNCATED -1

BPF_PERCPU_ARRAY(bptraf_stats, struct bptraf_stats, BPTRAF_NIFACES);
BPF_TABLE("lru_percpu_hash", struct bptraf_flow_key, struct bptraf_flow, bptraf_flows, BPTRAF_FLOWS_MAX);

#define BPTRAF_SIZES_ON 1
#define BPTRAF_FLOWS_ON 2

static __always_inline void add(struct bptraf_stats *s, int i, __u64 len)
{
	s->c[i].packets++;
	s->c[i].bytes += len;
}

static __always_inline int l4_class(int proto)
{
	switch (proto) {
	case BPTRAF_IPPROTO_TCP:	return BPTRAF_C_TCP;
	case BPTRAF_IPPROTO_UDP:	return BPTRAF_C_UDP;
	case BPTRAF_IPPROTO_ICMP:	return BPTRAF_C_ICMP;
	case BPTRAF_IPPROTO_ICMPV6:	return BPTRAF_C_ICMPV6;
	case BPTRAF_IPPROTO_SCTP:	return BPTRAF_C_SCTP;
	default:			return BPTRAF_C_L4_OTHER;
	}
}

/* The IPv4 protocol, or BPTRAF_TRUNCATED; *l4 is the L4 header of a first (or only) fragment, else NULL. */
static __always_inline int ipv4_proto(void *l3, void *end, void **l4)
{
	struct bptraf_ipv4 *ip = l3;
	__u32 ihl;

	if ((void *)(ip + 1) > end)
		return BPTRAF_TRUNCATED;
	ihl = ip->ver_ihl & 0x0f;
	if (ihl < 5 || l3 + ihl * 4 > end)
		return BPTRAF_TRUNCATED;
	*l4 = ip->frag_off & bpf_htons(0x1fff) ? NULL : l3 + ihl * 4;
	return ip->protocol;
}

/* The extension headers the walk steps over, as a bit mask of their (sub-64) numbers. */
#define BPTRAF_IPV6_EXT_MASK ((1ULL << BPTRAF_IPPROTO_HOPOPTS) | (1ULL << BPTRAF_IPPROTO_ROUTING) | \
			      (1ULL << BPTRAF_IPPROTO_FRAGMENT) | (1ULL << BPTRAF_IPPROTO_DSTOPTS))

/* The protocol after IPv6's extension headers, or BPTRAF_TRUNCATED; *l4 as for IPv4. */
static __always_inline int ipv6_proto(void *l3, void *end, void **l4)
{
	struct bptraf_ipv6 *ip6 = l3;
	struct bptraf_ipv6_ext *ext;
	void *cur = ip6 + 1;
	__u8 nh;

	if (cur > end)
		return BPTRAF_TRUNCATED;
	nh = ip6->nexthdr;
	*l4 = NULL;

#pragma unroll
	for (int i = 0; i < BPTRAF_IPV6_EXT_MAX; i++) {
		if (nh >= 64 || !((1ULL << nh) & BPTRAF_IPV6_EXT_MASK))
			break;
		/* Every extension header is at least 8 bytes: one check covers all it reads. */
		if (cur + 8 > end)
			return BPTRAF_TRUNCATED;
		ext = cur;
		if (nh == BPTRAF_IPPROTO_FRAGMENT) {
			/* A non-first fragment has no L4 header to read ports from. */
			if (*(__be16 *)(cur + 2) & bpf_htons(0xfff8))
				return ext->nexthdr;
			cur += 8;
		} else {
			cur += (ext->hdrlen + 1) * 8;
		}
		nh = ext->nexthdr;
	}
	/* The last header's claimed length may run past the frame. */
	if (cur > end)
		return BPTRAF_TRUNCATED;
	*l4 = cur;
	return nh;
}

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

static __always_inline void count_ip(struct bptraf_stats *s, __u32 slot, void *l3, void *end, int v6, __u64 len,
				     const int features)
{
	void *l4 = NULL;
	int proto = v6 ? ipv6_proto(l3, end, &l4) : ipv4_proto(l3, end, &l4);

	add(s, v6 ? BPTRAF_C_IPV6 : BPTRAF_C_IPV4, len);
	if (proto == BPTRAF_TRUNCATED) {
		add(s, BPTRAF_C_L4_OTHER, len);
		return;
	}
	add(s, l4_class(proto), len);
	if (features & BPTRAF_FLOWS_ON)
		track_flow(slot, l3, l4, end, v6, proto, len);
}

#define BPTRAF_BUCKET(max) + (len > max)

static __always_inline int count(struct xdp_md *ctx, __u32 slot, const int features)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct bptraf_stats *s = bptraf_stats.lookup(&slot);
	struct bptraf_eth *eth = data;
	void *l3 = eth + 1;
	__be16 proto;

	if (!s)
		return XDP_PASS;
	add(s, BPTRAF_C_ALL, len);
	/* The bucket index is a sum of comparisons. */
	if (features & BPTRAF_SIZES_ON)
		s->sizes[0 BPTRAF_SIZES(BPTRAF_BUCKET)]++;
	if (l3 > end) {
		add(s, BPTRAF_C_L3_OTHER, len);
		return XDP_PASS;
	}
	proto = eth->proto;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct bptraf_vlan *vh = l3;

		if (proto != bpf_htons(BPTRAF_ETH_P_8021Q) && proto != bpf_htons(BPTRAF_ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > end) {
			add(s, BPTRAF_C_VLAN, len);
			add(s, BPTRAF_C_L3_OTHER, len);
			return XDP_PASS;
		}
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (l3 != (void *)(eth + 1))
		add(s, BPTRAF_C_VLAN, len);

	switch (bpf_ntohs(proto)) {
	case BPTRAF_ETH_P_IP:
		count_ip(s, slot, l3, end, 0, len, features);
		break;
	case BPTRAF_ETH_P_IPV6:
		count_ip(s, slot, l3, end, 1, len, features);
		break;
	case BPTRAF_ETH_P_ARP:
		add(s, BPTRAF_C_ARP, len);
		break;
	case BPTRAF_ETH_P_PPP_DISC:
	case BPTRAF_ETH_P_PPP_SES:
		add(s, BPTRAF_C_PPPOE, len);
		break;
	default:
		/* A third VLAN tag lands here too. */
		add(s, BPTRAF_C_L3_OTHER, len);
	}
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
