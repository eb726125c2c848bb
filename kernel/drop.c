/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bptraf -d: count total packets and bytes, then drop. It reads only the
 * context's data pointers, never packet data, so it measures how fast the
 * host can receive.
 */
#include "counters.h"

BPF_PERCPU_ARRAY(bptraf_drop, struct bptraf_count, BPTRAF_NIFACES);

static __always_inline int drop(struct xdp_md *ctx, __u32 slot)
{
	struct bptraf_count *c = bptraf_drop.lookup(&slot);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

#define BPTRAF_PROG(n) \
	int bptraf_drop_##n(struct xdp_md *ctx) { return drop(ctx, n); }
#include "slots.h"
