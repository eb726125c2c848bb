"""VLAN tags on egress: a tag in the skb's metadata (a driver-inserted tag, skb->vlan_*, not in the
frame data) counts in `vlan` once, as an inline tag does; a frame with both counts once. The tag is
put there by the test's own tcx program ahead of bptraf's (tests/vlan_push.c), since a VLAN device
needs a kernel built with 802.1Q."""

from __future__ import annotations

import os
import socket
import struct

import pytest
from frames import eth, ipv4
from netlab import HERE
from runner import Bptraf
from test_tx import send_from_host, tx_totals, tx_until

from bptraf import libbpf

pytestmark = pytest.mark.bpf


def udp_frame(extra: int, tags: tuple[int, ...] = ()) -> bytes:
    udp = struct.pack("!HHHH", 4000, 5000, 8 + 18 + extra, 0) + bytes(18 + extra)
    return eth(0x0800, ipv4(17, udp), tags=tags)


@pytest.fixture
def tagger(lab):
    """vlan_push.c attached to the host end's tcx egress before bptraf starts (bptraf appends)."""
    import bcc

    obj = bcc.BPF(src_file=str(HERE / "vlan_push.c").encode())
    link = -1
    try:
        prog = obj.load_func(b"vlan_push", bcc.BPF.SCHED_CLS)
        link = libbpf.link_create_tcx_egress(prog.fd, socket.if_nametoindex(lab.host))
        yield lab
    finally:
        if link >= 0:
            os.close(link)
        obj.cleanup()


def test_a_tag_in_the_skb_counts_in_vlan_once_with_the_frames_length(tagger):
    lab = tagger
    plain = [udp_frame(10 * i) for i in range(7)]
    inline = [udp_frame(5 * i, tags=(0x8100,)) for i in range(5)]  # tagged inline too: counted once
    with Bptraf(lab.host, "--json", "-i", "0.2") as bp:
        bp.wait_ready()
        send_from_host(lab.host, plain + inline)
        tx_until(bp, lab.host, "all", len(plain) + len(inline))
        code, out, err = bp.stop()
    assert code == 0, err
    got = {k: v for k, v in tx_totals(out, lab.host).items() if v != (0, 0)}
    n, size = len(plain) + len(inline), sum(map(len, plain + inline))
    # The metadata tag is not in the frame bptraf reads, nor in its length.
    assert got == {"all": (n, size), "vlan": (n, size), "ipv4": (n, size), "udp": (n, size)}
