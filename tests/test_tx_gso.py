"""kernel/egress.c on GSO packets, through BPF_PROG_TEST_RUN: the test run sets gso_segs, gso_size
and wire_len in the program's __sk_buff as __dev_queue_xmit would, so segment counts, wire bytes and
segment sizes are checked exactly, a packet with no segment count (SKB_GSO_DODGY) too."""

from __future__ import annotations

import struct

import pytest
from frames import eth, ipv4, tcp

from bptraf import libbpf, netif, tcx
from bptraf.counters import counting, size_labels
from bptraf.source import Feature

pytestmark = pytest.mark.bpf

# struct __sk_buff offsets (include/uapi/linux/bpf.h) of the fields a test run may set.
SKB_WIRE_LEN, SKB_GSO_SEGS, SKB_GSO_SIZE, SKB_SIZE = 160, 164, 176, 192
HDR = 14 + 20 + 32  # Ethernet, IPv4, TCP with timestamps


@pytest.fixture(scope="module")
def egress():
    import bcc

    from bptraf.loader import load_programs

    obj, fds, maps = load_programs(bcc, "egress", 1)
    e = tcx.Egress(fds, {"stats": maps["stats"]}, len(counting()), len(size_labels()))
    try:
        yield e, fds
    finally:
        obj.cleanup()


def run(egress, features: Feature, frame: bytes, segs: int, gso_size: int, wire: int) -> dict:
    e, fds = egress
    ncpus = netif.possible_cpus()
    before = e.totals(e.read(1, ncpus)[0])
    ctx = bytearray(SKB_SIZE)
    struct.pack_into("=III", ctx, SKB_WIRE_LEN, wire, segs, 0)
    struct.pack_into("=I", ctx, SKB_GSO_SIZE, gso_size)
    ret, _ns = libbpf.test_run_skb(fds[features][0], frame, 1, bytes(ctx))
    assert ret == -1, "the egress program must return TC_ACT_UNSPEC"
    after = e.totals(e.read(1, ncpus)[0])
    return {k: tuple(a - b for a, b in zip(after[k], before[k])) for k in after}


def tso_packet(payload: int) -> bytes:
    return eth(0x0800, ipv4(6, tcp(40000, 5201) + bytes(12) + bytes(payload)))


# Three segments of at most 1000 bytes of payload: 1000, 1000 and 500.
FRAME = tso_packet(2500)
WIRE = len(FRAME) + 2 * HDR
INDEX = {c.name: c.index for c in counting()}


@pytest.mark.parametrize("segs", [3, 0], ids=["gso_segs", "dodgy-no-count"])
def test_a_gso_packet_counts_its_segments_and_their_wire_bytes(egress, segs):
    got = run(egress, Feature.SIZES, FRAME, segs, 1000, WIRE)
    assert {n: (got["tx_packets"][i], got["tx_bytes"][i]) for n, i in INDEX.items() if got["tx_packets"][i]} == {
        "all": (3, WIRE),
        "ipv4": (3, WIRE),
        "tcp": (3, WIRE),
    }
    # Two full segments of 1000 + 66 bytes, and the last of 500 + 66.
    assert dict(zip(size_labels(), got["tx_sizes"])) == {
        **dict.fromkeys(size_labels(), 0),
        "1024-1518": 2,
        "512-1023": 1,
    }


def test_a_plain_frame_counts_once_with_its_length(egress):
    frame = tso_packet(100)
    got = run(egress, Feature.NONE, frame, 1, 0, len(frame))
    assert (got["tx_packets"][0], got["tx_bytes"][0]) == (1, len(frame))
    assert sum(got["tx_sizes"]) == 0, "the plain program keeps no size histogram"


def test_a_dodgy_packet_whose_headers_push_it_past_a_segment_counts_its_real_segments(egress):
    """Two segments of 1000 and 950 bytes of payload, no segment count: len / gso_size rounds up to 3
    (the headers are in len once), and the header length 3 would imply shows it is 2."""
    frame = tso_packet(1950)
    wire = len(frame) + HDR
    got = run(egress, Feature.SIZES, frame, 0, 1000, wire)
    assert (got["tx_packets"][INDEX["all"]], got["tx_bytes"][INDEX["all"]]) == (2, wire)
    # 1000 + 66 bytes, then 950 + 66.
    assert dict(zip(size_labels(), got["tx_sizes"])) == {
        **dict.fromkeys(size_labels(), 0),
        "1024-1518": 1,
        "512-1023": 1,
    }


def test_each_frame_size_lands_in_its_bucket_at_the_bounds(egress):
    """A frame of each bucket's last size and of the next one: an off-by-one shows at once."""
    from bptraf.counters import size_bounds

    for length in [n + d for n in size_bounds() for d in (0, 1)]:
        frame = eth(0x0800, ipv4(17, bytes(length - 34)))
        got = run(egress, Feature.SIZES, frame, 1, 0, length)
        want = [0] * len(size_labels())
        want[sum(length > b for b in size_bounds())] = 1
        assert list(got["tx_sizes"]) == want, length
