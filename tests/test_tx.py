"""Real tc egress counting on veth pairs: exact TX counts, TSO wire counts, tcx links after kill -9,
a foreign tcx program left alone, and RX-only on a kernel that refuses tcx."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from frames import mix
from netlab import HERE, sh
from runner import ROOT, Bptraf, records, totals, wait_for

from bptraf import libbpf
from bptraf.counters import counting, size_bounds

pytestmark = pytest.mark.bpf

CLASSES = {c.name for c in counting()}


def tx_totals(out: str, iface: str) -> dict[str, tuple[int, int]]:
    """Every interval's `tx` object summed, per counter."""
    got: dict[str, tuple[int, int]] = {}
    for record in records(out, iface):
        for name, c in record["tx"].items():
            p, b = got.get(name, (0, 0))
            got[name] = (p + c["packets"], b + c["bytes"])
    return got


def tx_until(bp: Bptraf, iface: str, name: str, packets: int, timeout: float = 20.0) -> None:
    """Read intervals until `packets` have been counted as sent in `name`; fail if time runs out first
    (only the new lines are summed each time, so the reader keeps up)."""
    deadline = time.monotonic() + timeout
    seen, done = tx_totals("".join(bp.lines), iface).get(name, (0, 0))[0], len(bp.lines)
    while seen < packets:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{packets} packets never counted as sent in {name} on {iface} in {timeout}s (got {seen})"
            )
        bp.readline()
        seen += tx_totals("".join(bp.lines[done:]), iface).get(name, (0, 0))[0]
        done = len(bp.lines)


def send_from_host(iface: str, frames: list[bytes]) -> None:
    """Send raw frames out of `iface` in this namespace: they leave through it, so they are TX there."""
    payload = "\n".join(f.hex() for f in frames) + "\n"
    subprocess.run([sys.executable, str(HERE / "send_frames.py"), iface], input=payload, text=True, check=True,
                   timeout=30)  # fmt: skip


def tcx_links(pid: int) -> dict[int, int]:
    """{link id: ifindex} of the tcx links a process holds, from its fds."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            info = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines()
                        if ":\t" in line)  # fmt: skip
        except OSError:
            continue
        if info.get("link_type") == "tcx":
            out[int(info["link_id"])] = int(info["ifindex"])
    return out


def kernel_links() -> dict[int, object]:
    """{link id: type} from the kernel's link list (Debian's bpftool 7.1 prints tcx as type 11)."""
    return {link["id"]: link["type"] for link in json.loads(sh("bpftool", "-j", "link").stdout or "[]")}


def tcx_egress_ids(ifindex: int) -> list[int]:
    """The program ids on an interface's tcx egress chain, in the order they run."""
    so = libbpf.lib()
    ids = (ctypes.c_uint32 * 64)()
    count = ctypes.c_uint32(64)
    flags = ctypes.c_uint32(0)
    so.bpf_prog_query.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32),
                                  ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]  # fmt: skip
    ret = so.bpf_prog_query(ifindex, libbpf.BPF_TCX_EGRESS, 0, ctypes.byref(flags), ids, ctypes.byref(count))
    if ret < 0:
        raise OSError(-ret, "prog query")
    return list(ids[: count.value])


def ifindex(name: str) -> int:
    return socket.if_nametoindex(name)


def test_every_kind_sent_is_counted_exactly(lab):
    sh("ethtool", "-K", lab.host, "tso", "off", "gso", "off")
    frames, expected = mix()
    with Bptraf(lab.host, "--json", "-i", "0.2", "--sizes") as bp:
        bp.wait_ready()
        send_from_host(lab.host, frames)
        tx_until(bp, lab.host, "all", len(frames))
        code, out, err = bp.stop()
    assert code == 0, err
    got = tx_totals(out, lab.host)
    assert set(got) == CLASSES
    assert got == {name: expected.get(name, (0, 0)) for name in CLASSES}
    # Nothing came in: the frames were counted on the way out only.
    assert totals(out, lab.host)["all"] == (0, 0)
    sizes = [0] * (len(size_bounds()) + 1)
    for f in frames:
        sizes[sum(len(f) > b for b in size_bounds())] += 1
    summed = [0] * len(sizes)
    for record in records(out, lab.host):
        summed = [s + n for s, n in zip(summed, record["tx_sizes"].values())]
    assert summed == sizes


@pytest.mark.parametrize("flag", ["--no-tx", "-d"])
def test_no_tx_and_drop_count_nothing_sent(lab, flag):
    with Bptraf(lab.host, "--json", "-i", "0.2", flag) as bp:
        first = bp.wait_ready()
        assert "tx" not in first and not tcx_links(bp.proc.pid)
        assert tcx_egress_ids(ifindex(lab.host)) == []
        code, _out, err = bp.stop()
    assert code == 0, err


class NsPair:
    """Two namespaces of the test's own joined by a veth, sender `a` (198.18.0.5) and receiver `b`
    (198.18.0.6): no address in this namespace, so parallel runs cannot collide."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.a, self.b, self.ia, self.ib = f"bptraf-txa-{tag}", f"bptraf-txb-{tag}", f"bta{tag}", f"btb{tag}"
        try:
            sh("ip", "netns", "add", self.a)
            sh("ip", "netns", "add", self.b)
            sh("ip", "link", "add", self.ia, "netns", self.a, "type", "veth", "peer", "name", self.ib, "netns", self.b)
            for ns, dev, addr in ((self.a, self.ia, "198.18.0.5"), (self.b, self.ib, "198.18.0.6")):
                self.run(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
                sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
                sh("ip", "-n", ns, "link", "set", dev, "up")
        except BaseException:
            self.destroy()
            raise

    def run(self, ns: str, *cmd: str) -> str:
        return sh("ip", "netns", "exec", ns, *cmd).stdout

    def destroy(self) -> None:
        sh("ip", "netns", "del", self.a, check=False)
        sh("ip", "netns", "del", self.b, check=False)


@pytest.fixture
def ns_pair():
    pair = NsPair()
    yield pair
    pair.destroy()


def _snmp_tcp(pair: NsPair) -> dict[str, int]:
    """The sender's namespace's TCP counters (/proc/net/snmp), its TCP traffic alone."""
    names, values = (line.split()[1:] for line in pair.run(pair.a, "cat", "/proc/net/snmp").splitlines()
                     if line.startswith("Tcp:"))  # fmt: skip
    return dict(zip(names, map(int, values)))


def _veth_tx_packets(pair: NsPair) -> int:
    return int(pair.run(pair.a, "cat", f"/sys/class/net/{pair.ia}/statistics/tx_packets"))


SINK = """
import socket
with socket.create_server(("198.18.0.6", 0)) as srv:
    srv.settimeout(30)
    print(srv.getsockname()[1], flush=True)
    conn, _ = srv.accept()
    got = 0
    with conn:
        conn.settimeout(30)
        while chunk := conn.recv(1 << 16):
            got += len(chunk)
    print(got, flush=True)
"""

SENDER = """
import socket, sys
with socket.create_connection(("198.18.0.6", int(sys.argv[1])), timeout=30) as s:
    s.sendall(bytes(int(sys.argv[2])))
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
"""


def tso_transfer(pair: NsPair, payload: int, *extra: str) -> tuple[str, int, dict[str, int], int]:
    """Send `payload` bytes of TCP out of pair.ia with TSO on, watched by `bptraf --json -i 0.2 *extra` in
    the sender's namespace (whose TCP counters count the sender's segments alone): bptraf's output, the
    sink's port, the growth of the namespace's TCP counters, and the skbs the veth sent."""
    pair.run(pair.a, "ethtool", "-K", pair.ia, "tso", "on", "gso", "on")
    cmd = ["ip", "netns", "exec", pair.a, sys.executable, "-m", "bptraf", pair.ia, "--json", "-i", "0.2", *extra]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    bp = Bptraf.__new__(Bptraf)
    bp.args, bp.proc, bp.lines = tuple(cmd), proc, []
    sink = subprocess.Popen(["ip", "netns", "exec", pair.b, sys.executable, "-c", SINK], stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        port = int(sink.stdout.readline().strip())
        bp.wait_ready()
        snmp0, skbs0 = _snmp_tcp(pair), _veth_tx_packets(pair)
        pair.run(pair.a, sys.executable, "-c", SENDER, str(port), str(payload))
        got = int(sink.communicate(timeout=30)[0])
        snmp, skbs = _snmp_tcp(pair), _veth_tx_packets(pair) - skbs0
        grew = {k: snmp[k] - snmp0[k] for k in ("OutSegs", "RetransSegs", "InSegs")}
        # OutSegs leaves retransmissions out (RetransSegs has them); the wire carries both.
        segs = grew["OutSegs"] + grew["RetransSegs"]
        tx_until(bp, pair.ia, "tcp", segs - segs // 200)  # within the 0.5% the tests assert
        code, out, err = bp.stop()
    finally:
        bp.__exit__()
        sink.kill()
        sink.wait()
    assert code == 0, err
    assert got == payload
    assert skbs * 4 < segs, "no GSO packets left the sender: the test would not test segment counting"
    return out, port, grew, skbs


def test_tso_bulk_transfer_counts_wire_segments(ns_pair):
    """The sender's end has TSO on; bptraf watches it in the sender's namespace, whose TcpOutSegs
    counts the sender's segments alone."""
    pair = ns_pair
    payload = 40 << 20
    out, _port, grew, _skbs = tso_transfer(pair, payload)
    retrans = grew["RetransSegs"]
    segs = grew["OutSegs"] + retrans
    tcp_packets, tcp_bytes = tx_totals(out, pair.ia)["tcp"]
    assert abs(tcp_packets - segs) <= 0.005 * segs, (tcp_packets, segs)
    # Every segment on the wire carries 14 + 20 + 32 bytes of Ethernet, IPv4 and TCP (timestamps) headers;
    # a retransmitted one carries its 1448 bytes of payload (the MSS at MTU 1500) once more.
    wire = payload + retrans * 1448 + tcp_packets * 66
    assert abs(tcp_bytes - wire) <= 0.005 * wire, (tcp_bytes, wire)


def test_kill_9_leaves_no_tcx_link(lab):
    with Bptraf(lab.host, "--json", "-i", "0.2") as bp:
        bp.wait_ready()
        links = tcx_links(bp.proc.pid)
        assert list(links.values()) == [ifindex(lab.host)]
        (link_id,) = links
        assert kernel_links().get(link_id) in (11, "tcx")
        bp.stop(signal.SIGKILL)
    assert wait_for(lambda: link_id not in kernel_links(), timeout=10), "tcx link left after kill -9"
    assert tcx_egress_ids(ifindex(lab.host)) == []


FOREIGN = b"""
BPF_ARRAY(seen, u64, 1);
int foreign(struct __sk_buff *skb)
{
	int zero = 0;
	u64 *n = seen.lookup(&zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return -1;
}
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_foreign_tcx_program_stays_and_keeps_counting(lab, sig):
    import bcc

    frame = mix()[0][0]
    host = ifindex(lab.host)
    obj = bcc.BPF(text=FOREIGN)
    link = -1
    try:
        prog = obj.load_func(b"foreign", bcc.BPF.SCHED_CLS)
        link = libbpf.link_create_tcx_egress(prog.fd, host)
        seen = obj[b"seen"]
        send_from_host(lab.host, [frame] * 10)
        assert wait_for(lambda: seen[0].value == 10)
        with Bptraf(lab.host, "--json", "-i", "0.2") as bp:
            bp.wait_ready()
            chain = tcx_egress_ids(host)
            assert len(chain) == 2 and chain[0] == prog_id(prog.fd), "bptraf is not appended after the foreign program"
            send_from_host(lab.host, [frame] * 20)
            tx_until(bp, lab.host, "all", 20)
            assert wait_for(lambda: seen[0].value == 30)
            code, out, _err = bp.stop(sig)
        assert tx_totals(out, lab.host)["all"][0] == 20 or sig == signal.SIGKILL
        assert wait_for(lambda: tcx_egress_ids(host) == [prog_id(prog.fd)], timeout=10)
        send_from_host(lab.host, [frame] * 5)
        assert wait_for(lambda: seen[0].value == 35)
    finally:
        if link >= 0:
            os.close(link)
        obj.cleanup()


def prog_id(fd: int) -> int:
    for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines():
        if line.startswith("prog_id:"):
            return int(line.split()[1])
    raise AssertionError("no prog_id in fdinfo")


def test_without_tcx_bptraf_says_so_once_and_counts_rx(lab, monkeypatch):
    from bptraf import tcx
    from bptraf.bpf import BpfSource
    from bptraf.source import Feature

    def refuse(_prog_fd: int, _ifindex: int) -> int:
        raise libbpf.LibbpfError(errno.EINVAL, "tcx link: Invalid argument")

    monkeypatch.setattr(libbpf, "link_create_tcx_egress", refuse)
    notes: list[str] = []
    frame = mix()[0][0]
    with BpfSource([lab.host], note=notes.append, features=Feature.TX) as source:
        assert notes == [tcx.NO_TCX]
        assert Feature.TX not in source.features | source.available
        lab.send([frame] * 3)
        assert wait_for(lambda: source.read()[0].packets[0] == 3)
        assert source.read()[0].tx_packets == ()
    assert not lab.xdp_attached()
