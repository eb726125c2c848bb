/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A test's own tc egress program, run before bptraf's on the same tcx chain:
 * it gives every frame a VLAN tag in the skb's metadata (skb->vlan_*), as a
 * VLAN device does when the driver inserts the tag, and changes no verdict.
 */
#include <uapi/linux/if_ether.h>

int vlan_push(struct __sk_buff *skb)
{
	bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 7);
	return -1;
}
