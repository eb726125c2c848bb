/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few wire-format definitions the counting program needs. Declared here
 * rather than taken from <linux/ip.h> and friends: those pull in enough
 * kernel headers to make bcc's start-up compile several times slower.
 * Fields are in network byte order.
 */
#ifndef BPTRAF_PROTO_H
#define BPTRAF_PROTO_H

#define BPTRAF_ETH_P_IP		0x0800
#define BPTRAF_ETH_P_ARP	0x0806
#define BPTRAF_ETH_P_8021Q	0x8100
#define BPTRAF_ETH_P_8021AD	0x88A8
#define BPTRAF_ETH_P_IPV6	0x86DD
#define BPTRAF_ETH_P_PPP_DISC	0x8863
#define BPTRAF_ETH_P_PPP_SES	0x8864

#define BPTRAF_IPPROTO_HOPOPTS	0
#define BPTRAF_IPPROTO_ICMP	1
#define BPTRAF_IPPROTO_TCP	6
#define BPTRAF_IPPROTO_UDP	17
#define BPTRAF_IPPROTO_ROUTING	43
#define BPTRAF_IPPROTO_FRAGMENT	44
#define BPTRAF_IPPROTO_ICMPV6	58
#define BPTRAF_IPPROTO_DSTOPTS	60
#define BPTRAF_IPPROTO_SCTP	132

struct bptraf_eth {
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
};

struct bptraf_vlan {
	__be16 tci;
	__be16 proto;
};

struct bptraf_ipv4 {
	__u8 ver_ihl;		/* version << 4 | header length in 32-bit words */
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__sum16 check;
	__be32 saddr;
	__be32 daddr;
};

struct bptraf_ipv6 {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The first two bytes of every IPv6 extension header. */
struct bptraf_ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;		/* in 8-byte units, not counting the first 8 */
};

#endif /* BPTRAF_PROTO_H */
