/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one list of bptraf's counters, shared by the XDP programs and by
 * userspace: bptraf/counters.py parses the X(...) lines below, so a counter
 * added here appears in every output without a second list to keep in step.
 *
 * X(ENUM, name, group, "label"):  group is TOTAL, L3 (the L3 classes sum to
 * all), L4 (inside IPv4/IPv6; they sum to ipv4 + ipv6) or FLAG (counted in
 * addition to the classes).
 */
#ifndef BPTRAF_COUNTERS_H
#define BPTRAF_COUNTERS_H

#define BPTRAF_COUNTERS(X)                       \
	X(ALL,      all,      TOTAL, "all")      \
	X(IPV4,     ipv4,     L3,    "IPv4")     \
	X(IPV6,     ipv6,     L3,    "IPv6")     \
	X(ARP,      arp,      L3,    "ARP")      \
	X(PPPOE,    pppoe,    L3,    "PPPoE")    \
	X(L3_OTHER, l3_other, L3,    "other L3") \
	X(TCP,      tcp,      L4,    "TCP")      \
	X(UDP,      udp,      L4,    "UDP")      \
	X(ICMP,     icmp,     L4,    "ICMP")     \
	X(ICMPV6,   icmpv6,   L4,    "ICMPv6")   \
	X(SCTP,     sctp,     L4,    "SCTP")     \
	X(L4_OTHER, l4_other, L4,    "other L4") \
	X(VLAN,     vlan,     FLAG,  "VLAN")

#define BPTRAF_ENUM(e, name, group, label) BPTRAF_C_##e,
enum bptraf_counter { BPTRAF_COUNTERS(BPTRAF_ENUM) BPTRAF_NCOUNTERS };
#undef BPTRAF_ENUM

/* One counter on one CPU. Per-CPU maps need no atomics: only this CPU writes. */
struct bptraf_count {
	__u64 packets;
	__u64 bytes;
};

/*
 * Frame-size histogram (packets): the upper bound of every bucket but the
 * last, which holds the larger (jumbo) frames. bptraf/counters.py parses it.
 */
#define BPTRAF_SIZES(X) X(64) X(127) X(255) X(511) X(1023) X(1518)
#define BPTRAF_ONE(max) + 1
#define BPTRAF_NSIZES (1 BPTRAF_SIZES(BPTRAF_ONE))

/* The counting program's map value: every counter, for one interface. */
struct bptraf_stats {
	struct bptraf_count c[BPTRAF_NCOUNTERS];
	__u64 sizes[BPTRAF_NSIZES];
};

/*
 * Per-flow sums (pass mode, when switched on): two tables of slots, IPv4 keys
 * of 16 bytes and IPv6 keys of 40, so the common case hashes and compares the
 * least. Ports are zero where the protocol has none, and in non-first
 * fragments. `dir` is 0 (kept for the layout userspace reads).
 *
 * `state` says whether a slot holds a flow: 0 empty, BPTRAF_FLOW_CLAIMED while
 * a program fills it in, BPTRAF_FLOW_USED once it is whole. It is in the
 * key's first 64-bit word, which a program claims (from zero) and publishes
 * (with USED) by atomic swaps, the counts and the other key words written in
 * between: a reader that sees USED in the first word sees the rest whole.
 */
#define BPTRAF_FLOW_USED 1
#define BPTRAF_FLOW_CLAIMED 2

struct bptraf_flow4_key {
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 slot;		/* which watched interface */
	__u8 dir;
	__u8 state;
	__be32 src;
	__be32 dst;
};

struct bptraf_flow6_key {
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 slot;
	__u8 dir;
	__u8 state;
	__u8 src[16];
	__u8 dst[16];
};

/* One value for all CPUs, added to atomically: a flow rarely spans CPUs, and a
 * table read copies 32 bytes per flow whatever the CPU count. No timestamps:
 * userspace sees a flow go idle when its count stops changing between reads.
 * A conversation is one entry: frames received add to packets/bytes under the
 * key as they arrive; frames sent add to tx_packets/tx_bytes under the same
 * key, their source and destination swapped. */
struct bptraf_flow {
	__u64 packets;
	__u64 bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
};

/* A slot of a flow table: the key, then the counts (48 and 72 bytes). */
struct bptraf_flow4_slot {
	struct bptraf_flow4_key key;
	struct bptraf_flow flow;
};

struct bptraf_flow6_slot {
	struct bptraf_flow6_key key;
	struct bptraf_flow flow;
};

/* Per CPU: packets of flows the full table had no room for (their totals are exact). */
struct bptraf_flow_stats {
	__u64 untracked_packets;
	__u64 untracked_bytes;
};

/* An entry point's features, compile-time constants (parse.h's classify() and count.c's track_flow()). */
#define BPTRAF_SIZES_ON 1
#define BPTRAF_FLOWS_ON 2
/* Set by egress entry points: a frame sent, keyed with src/dst swapped, adds to a flow's tx side. */
#define BPTRAF_TX_ON 4

/*
 * A flow table has 2^BPTRAF_FLOW_BITS slots, at least twice --flows-max
 * (bptraf/build.py), so a table holding --flows-max flows is half empty and a
 * flow is found within a few slots of where its hash puts it.
 */
#ifndef BPTRAF_FLOW_BITS
#define BPTRAF_FLOW_BITS 15
#endif
#define BPTRAF_FLOW_SLOTS (1u << BPTRAF_FLOW_BITS)
/* How many slots from its hash's a flow may be: a lookup or an insert reads at most these. */
#define BPTRAF_FLOW_PROBES 8

/* How many interfaces one run may watch: one program entry point per slot. */
#define BPTRAF_MAX_IFACES 8
#ifndef BPTRAF_NIFACES
#define BPTRAF_NIFACES 1
#endif

#endif /* BPTRAF_COUNTERS_H */
