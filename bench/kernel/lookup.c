/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a flow update cost with kernel hash maps as flow tables (bptraf's
 * earlier design): one hit in a kernel hash map and two atomic adds, nothing
 * else (no parser, no bounds checks beyond the key's bytes).
 * The key is copied from the frame, 16 bytes as for an IPv4 flow, 40 as for
 * IPv6; the first run inserts it, every later run hits it. Bench-only:
 * bench/testrun.py runs it next to bptraf's --flows program, so the bench
 * shows what the slot tables' inlined lookups save.
 */
struct bench_key16 {
	__u32 w[4];
};

struct bench_key40 {
	__u32 w[10];
};

struct bench_value {
	__u64 packets;
	__u64 bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
};

BPF_HASH(bench_hash16, struct bench_key16, struct bench_value, 16);
BPF_HASH(bench_hash40, struct bench_key40, struct bench_value, 16);

int bench_lookup16(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bench_key16 key;
	struct bench_value *v, fresh = { .packets = 1 };

	if (data + 14 + sizeof(key) > end)
		return XDP_ABORTED;
	__builtin_memcpy(&key, data + 14, sizeof(key));
	v = bench_hash16.lookup(&key);
	if (!v) {
		bench_hash16.insert(&key, &fresh);
		return XDP_PASS;
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, end - data);
	return XDP_PASS;
}

int bench_lookup40(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct bench_key40 key;
	struct bench_value *v, fresh = { .packets = 1 };

	if (data + 14 + sizeof(key) > end)
		return XDP_ABORTED;
	__builtin_memcpy(&key, data + 14, sizeof(key));
	v = bench_hash40.lookup(&key);
	if (!v) {
		bench_hash40.insert(&key, &fresh);
		return XDP_PASS;
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, end - data);
	return XDP_PASS;
}
