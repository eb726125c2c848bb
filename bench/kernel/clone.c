/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench traffic generator, where the kernel refuses live frames: a tc program
 * that BPF_PROG_TEST_RUN runs on the test frame, each run sending a clone of it
 * out of the generator's veth (BENCH_IFINDEX, a -D flag).
 */
#include <uapi/linux/pkt_cls.h>

int bench_clone(struct __sk_buff *skb)
{
	bpf_clone_redirect(skb, BENCH_IFINDEX, 0);
	return TC_ACT_SHOT;
}
