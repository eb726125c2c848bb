/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The frame parser and classifier, shared by every counting program
 * (count.c on XDP receive, and any program on another hook): it reads only
 * between `data` and `end`, so it does not care which hook the frame came
 * from.
 *
 * Every frame counts in `all` and in exactly one L3 class; IPv4 and IPv6
 * frames also count in exactly one L4 class; frames with one or two VLAN
 * tags also count in `vlan`. A frame too short for a header it announces
 * keeps its L3 class and lands in `l4_other` (or `l3_other` when even the
 * ethertype is missing): nothing is read past `end`.
 *
 * IPv4 and IPv6 are classed by their protocol / last next-header field once
 * the L3 header (with IPv4 options, with IPv6 extension headers) is whole,
 * so non-first fragments, which carry no L4 header, keep their protocol.
 *
 * The includer declares, before including this file:
 *   track_flow(slot, l3, l4, end, v6, proto, pkts, len, features)  per-flow
 *   sums, called for IP frames when `features & BPTRAF_FLOWS_ON`;
 *   `features & BPTRAF_TX_ON` says the frame is being sent.
 */
#ifndef BPTRAF_PARSE_H
#define BPTRAF_PARSE_H

#include "counters.h"
#include "proto.h"

/* IPv6 extension headers walked before giving up (RFC 8200 order has at most 6). */
#define BPTRAF_IPV6_EXT_MAX 6
/* Returned by the L3 parsers when the header is cut short. */
#define BPTRAF_TRUNCATED -1


/*
 * `pkts` frames of `len` bytes in all: receive passes the constant 1, which
 * compiles to the same increment as before; egress passes a GSO packet's
 * segment count.
 */
static __always_inline void add(struct bptraf_stats *s, int i, __u32 pkts, __u64 len)
{
	s->c[i].packets += pkts;
	s->c[i].bytes += len;
}

#define BPTRAF_BUCKET(max) + (len > max)

/* The frame-size bucket of a `len`-byte frame: a sum of comparisons. */
static __always_inline int size_bucket(__u64 len)
{
	return 0 BPTRAF_SIZES(BPTRAF_BUCKET);
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
	/* Most headers have no options: the check above covers them. */
	if (ihl != 5 && (ihl < 5 || l3 + ihl * 4 > end))
		return BPTRAF_TRUNCATED;
	*l4 = ip->frag_off & bpf_htons(0x1fff) ? NULL : l3 + ihl * 4;
	return ip->protocol;
}

/*
 * The protocol after IPv6's extension headers, or BPTRAF_TRUNCATED; *l4 as for IPv4.
 *
 * The fragment header (fixed length) is told apart first, then the three
 * others by compares: the bit-mask test this replaced (a 64-bit constant and a
 * shift per step) took some 2% more per packet behind three headers in XDP
 * test runs, each the mean of four loads (bench/testrun.py's LOADS says why);
 * on tc egress the two were within 1%. Each header's position still waits on
 * a load from the one before, which is most of what the walk costs.
 */
static __always_inline int ipv6_proto(void *l3, void *end, void **l4)
{
	struct bptraf_ipv6 *ip6 = l3;
	void *cur = ip6 + 1;
	int nh;

	if (cur > end)
		return BPTRAF_TRUNCATED;
	nh = ip6->nexthdr;
	*l4 = NULL;

#pragma unroll
	for (int i = 0; i < BPTRAF_IPV6_EXT_MAX; i++) {
		struct bptraf_ipv6_ext *ext = cur;

		if (nh == BPTRAF_IPPROTO_FRAGMENT) {
			if (cur + 8 > end)
				return BPTRAF_TRUNCATED;
			/* A non-first fragment has no L4 header to read ports from. */
			if (*(__be16 *)(cur + 2) & bpf_htons(0xfff8))
				return ext->nexthdr;
			nh = ext->nexthdr;
			cur += 8;
			continue;
		}
		if (nh != BPTRAF_IPPROTO_HOPOPTS && nh != BPTRAF_IPPROTO_ROUTING && nh != BPTRAF_IPPROTO_DSTOPTS)
			break;
		/* Every extension header is at least 8 bytes: one check covers all it reads. */
		if (cur + 8 > end)
			return BPTRAF_TRUNCATED;
		nh = ext->nexthdr;
		cur += (ext->hdrlen + 1) * 8;
	}
	/* The last header's claimed length may run past the frame. */
	if (cur > end)
		return BPTRAF_TRUNCATED;
	*l4 = cur;
	return nh;
}

static __always_inline void count_ip(struct bptraf_stats *s, __u32 slot, void *l3, void *end, int v6, __u32 pkts,
				     __u64 len, const int features)
{
	void *l4 = NULL;
	int proto = v6 ? ipv6_proto(l3, end, &l4) : ipv4_proto(l3, end, &l4);

	add(s, v6 ? BPTRAF_C_IPV6 : BPTRAF_C_IPV4, pkts, len);
	if (proto == BPTRAF_TRUNCATED) {
		add(s, BPTRAF_C_L4_OTHER, pkts, len);
		return;
	}
	add(s, l4_class(proto), pkts, len);
	if (features & BPTRAF_FLOWS_ON)
		track_flow(slot, l3, l4, end, v6, proto, pkts, len, features);
}

/*
 * Count `pkts` frames of `len` bytes in all, whose headers start at `data`,
 * into `s`: `all`, their L3 class, their L4 class and `vlan`, and (by
 * `features`, a compile-time constant) their flow and, when `pkts` is 1, their
 * size bucket (a GSO packet's segments have sizes of their own: egress.c).
 * `hw_vlan`: the frame also has a VLAN tag outside its data (in the skb's
 * metadata, on egress); it counts in `vlan` once, whether or not the data
 * has a tag too.
 */
static __always_inline void classify_tagged(struct bptraf_stats *s, __u32 slot, void *data, void *end, __u32 pkts,
					    __u64 len, const int features, int hw_vlan)
{
	struct bptraf_eth *eth = data;
	void *l3 = eth + 1;
	__be16 proto;

	add(s, BPTRAF_C_ALL, pkts, len);
	if (features & BPTRAF_SIZES_ON)
		s->sizes[size_bucket(len)]++;
	if (l3 > end) {
		add(s, BPTRAF_C_L3_OTHER, pkts, len);
		return;
	}
	proto = eth->proto;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct bptraf_vlan *vh = l3;

		if (proto != bpf_htons(BPTRAF_ETH_P_8021Q) && proto != bpf_htons(BPTRAF_ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > end) {
			add(s, BPTRAF_C_VLAN, pkts, len);
			add(s, BPTRAF_C_L3_OTHER, pkts, len);
			return;
		}
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (l3 != (void *)(eth + 1) || hw_vlan)
		add(s, BPTRAF_C_VLAN, pkts, len);

	switch (bpf_ntohs(proto)) {
	case BPTRAF_ETH_P_IP:
		count_ip(s, slot, l3, end, 0, pkts, len, features);
		break;
	case BPTRAF_ETH_P_IPV6:
		count_ip(s, slot, l3, end, 1, pkts, len, features);
		break;
	case BPTRAF_ETH_P_ARP:
		add(s, BPTRAF_C_ARP, pkts, len);
		break;
	case BPTRAF_ETH_P_PPP_DISC:
	case BPTRAF_ETH_P_PPP_SES:
		add(s, BPTRAF_C_PPPOE, pkts, len);
		break;
	default:
		/* A third VLAN tag lands here too. */
		add(s, BPTRAF_C_L3_OTHER, pkts, len);
	}
}

/* classify_tagged() for a frame whose tags are all in its data (XDP). */
static __always_inline void classify(struct bptraf_stats *s, __u32 slot, void *data, void *end, __u32 pkts,
				     __u64 len, const int features)
{
	classify_tagged(s, slot, data, end, pkts, len, features, 0);
}

#endif /* BPTRAF_PARSE_H */
