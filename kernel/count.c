/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bptraf: count every received frame by protocol, then pass it on.
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
 */
#include "counters.h"
#include "proto.h"

/* IPv6 extension headers walked before giving up (RFC 8200 order has at most 6). */
#define BPTRAF_IPV6_EXT_MAX 6

BPF_PERCPU_ARRAY(bptraf_stats, struct bptraf_stats, BPTRAF_NIFACES);

static __always_inline void add(struct bptraf_stats *s, int i, __u64 len)
{
	s->c[i].packets++;
	s->c[i].bytes += len;
}

static __always_inline int l4_class(__u8 proto)
{
	switch (proto) {
	case BPTRAF_IPPROTO_TCP:	return BPTRAF_C_TCP;
	case BPTRAF_IPPROTO_UDP:	return BPTRAF_C_UDP;
	case BPTRAF_IPPROTO_ICMP:	return BPTRAF_C_ICMP;
	case BPTRAF_IPPROTO_ICMPV6:	return BPTRAF_C_ICMPV6;
	case BPTRAF_IPPROTO_SCTP:	return BPTRAF_C_SCTP;
	default:		return BPTRAF_C_L4_OTHER;
	}
}

static __always_inline int ipv4_class(void *l3, void *end)
{
	struct bptraf_ipv4 *ip = l3;
	__u32 ihl;

	if ((void *)(ip + 1) > end)
		return BPTRAF_C_L4_OTHER;
	ihl = ip->ver_ihl & 0x0f;
	if (ihl < 5 || l3 + ihl * 4 > end)
		return BPTRAF_C_L4_OTHER;
	return l4_class(ip->protocol);
}

static __always_inline int ipv6_class(void *l3, void *end)
{
	struct bptraf_ipv6 *ip6 = l3;
	struct bptraf_ipv6_ext *ext;
	void *cur = ip6 + 1;
	__u8 nh;

	if (cur > end)
		return BPTRAF_C_L4_OTHER;
	nh = ip6->nexthdr;

#pragma unroll
	for (int i = 0; i < BPTRAF_IPV6_EXT_MAX; i++) {
		if (nh != BPTRAF_IPPROTO_HOPOPTS && nh != BPTRAF_IPPROTO_ROUTING &&
		    nh != BPTRAF_IPPROTO_FRAGMENT && nh != BPTRAF_IPPROTO_DSTOPTS)
			break;
		ext = cur;
		if ((void *)(ext + 1) > end)
			return BPTRAF_C_L4_OTHER;
		/* The fragment header is 8 bytes; its second byte is reserved. */
		cur += nh == BPTRAF_IPPROTO_FRAGMENT ? 8 : (ext->hdrlen + 1) * 8;
		nh = ext->nexthdr;
		if (cur > end)
			return BPTRAF_C_L4_OTHER;
	}
	return l4_class(nh);
}

static __always_inline int count(struct xdp_md *ctx, __u32 slot)
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
	if (l3 > end) {
		add(s, BPTRAF_C_L3_OTHER, len);
		return XDP_PASS;
	}
	proto = eth->proto;

	if (proto == bpf_htons(BPTRAF_ETH_P_8021Q) || proto == bpf_htons(BPTRAF_ETH_P_8021AD)) {
		add(s, BPTRAF_C_VLAN, len);
#pragma unroll
		for (int i = 0; i < 2; i++) {
			struct bptraf_vlan *vh = l3;

			if (proto != bpf_htons(BPTRAF_ETH_P_8021Q) &&
			    proto != bpf_htons(BPTRAF_ETH_P_8021AD))
				break;
			if ((void *)(vh + 1) > end) {
				add(s, BPTRAF_C_L3_OTHER, len);
				return XDP_PASS;
			}
			proto = vh->proto;
			l3 = vh + 1;
		}
	}

	switch (bpf_ntohs(proto)) {
	case BPTRAF_ETH_P_IP:
		add(s, BPTRAF_C_IPV4, len);
		add(s, ipv4_class(l3, end), len);
		break;
	case BPTRAF_ETH_P_IPV6:
		add(s, BPTRAF_C_IPV6, len);
		add(s, ipv6_class(l3, end), len);
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

#define BPTRAF_PROG(n) \
	int bptraf_count_##n(struct xdp_md *ctx) { return count(ctx, n); }
#include "slots.h"
