"""Real XDP on veth pairs: exact counts for frames the test sends, drops, attach safety, exits."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest
from frames import KINDS, mix
from netlab import HERE, HOST_ADDR, VethLab
from runner import ROOT, Bptraf, records, totals, wait_for

pytestmark = pytest.mark.bpf

UDP_PAYLOAD = 18
UDP_FRAME = 14 + 20 + 8 + UDP_PAYLOAD


def count_until(bp: Bptraf, iface: str, packets: int, timeout: float = 20.0) -> None:
    """Read intervals until `packets` have been counted on iface; fail if time runs out first. Only the
    new lines are summed each time, so the reader keeps up with -i 0.1 on a loaded machine."""
    deadline = time.monotonic() + timeout
    seen, done = totals("".join(bp.lines), iface).get("all", (0, 0))[0], len(bp.lines)
    while seen < packets:
        if time.monotonic() > deadline:
            raise AssertionError(f"{packets} packets never counted on {iface} in {timeout}s (got {seen})")
        bp.readline()
        seen += totals("".join(bp.lines[done:]), iface).get("all", (0, 0))[0]
        done = len(bp.lines)


def send_udp(lab: VethLab, port: int, count: int) -> None:
    lab.in_ns(sys.executable, str(HERE / "send_udp.py"), HOST_ADDR, str(port), str(count), str(UDP_PAYLOAD))


class Receiver:
    """A UDP socket on the host end: proof of what got through."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST_ADDR, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.got = 0

    def drain(self) -> int:
        while True:
            try:
                self.sock.recv(2048)
                self.got += 1
            except BlockingIOError:
                return self.got

    def expect(self, total: int, timeout: float = 5.0) -> int:
        """Wait until `total` datagrams arrived in all; return how many did (never waits past `timeout`)."""
        wait_for(lambda: self.drain() >= total, timeout=timeout)
        return self.drain()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def rx():
    r = Receiver()
    yield r
    r.close()


@pytest.mark.parametrize("mode", ["native", "generic"])
def test_every_class_counted_exactly(lab, mode):
    frames, expected = mix()
    with Bptraf(lab.host, "--json", "-i", "0.2", "--mode", mode) as bp:
        first = bp.wait_ready()
        assert (first["mode"], first["action"]) == (mode, "pass")
        assert lab.xdp_attached()
        lab.send(frames)
        count_until(bp, lab.host, len(frames))
        code, out, err = bp.stop()
    assert code == 0, err
    got = totals(out, lab.host)
    assert got == {name: expected.get(name, (0, 0)) for name in got}
    assert set(got) == {
        "all",
        "ipv4",
        "ipv6",
        "arp",
        "pppoe",
        "l3_other",
        "tcp",
        "udp",
        "icmp",
        "icmpv6",
        "sctp",
        "l4_other",
        "vlan",
    }
    # Every interval bptraf printed partitions its own traffic as documented (not just the sums).
    for record in records(out, lab.host):
        c = {name: (v["packets"], v["bytes"]) for name, v in record["counters"].items()}
        for i in (0, 1):
            assert sum(c[n][i] for n in ("ipv4", "ipv6", "arp", "pppoe", "l3_other")) == c["all"][i], record
            l4 = sum(c[n][i] for n in ("tcp", "udp", "icmp", "icmpv6", "sctp", "l4_other"))
            assert l4 == c["ipv4"][i] + c["ipv6"][i], record
    assert not lab.xdp_attached()


@pytest.fixture(scope="module")
def per_kind() -> dict[str, dict[str, tuple[int, int]]]:
    """Send each kind once, then wait for it to be counted, and record what bptraf counted for it."""
    seen: dict[str, dict[str, tuple[int, int]]] = {}
    lab = VethLab.create()
    try:
        with Bptraf(lab.host, "--json", "-i", "0.1") as bp:
            bp.wait_ready()
            for n, k in enumerate(KINDS, 1):
                before = len(bp.lines)
                lab.send([k.frame])
                count_until(bp, lab.host, n)
                got = totals("".join(bp.lines[before:]), lab.host)
                seen[k.name] = {c: v for c, v in got.items() if v != (0, 0)}
            bp.stop()
    finally:
        lab.destroy()
    return seen


@pytest.mark.parametrize("k", KINDS, ids=lambda k: k.name)
def test_each_kind_lands_in_its_classes(per_kind, k):
    assert per_kind[k.name] == {c: (1, len(k.frame)) for c in k.counters}


def test_drop_mode_drops_and_counts(addressed_lab, rx):
    lab = addressed_lab
    send_udp(lab, rx.port, 5)
    assert rx.expect(5) == 5, "the test path does not work even without bptraf"
    with Bptraf(lab.host, "-d", "--json", "-i", "0.2") as bp:
        first = bp.wait_ready()
        assert (first["action"], list(first["counters"])) == ("drop", ["all"])
        send_udp(lab, rx.port, 200)
        count_until(bp, lab.host, 200)
        assert rx.drain() == 5, "a packet got past the drop program"
        code, out, err = bp.stop()
    assert code == 0, err
    assert err.count("every packet arriving on") == 1
    assert totals(out, lab.host) == {"all": (200, 200 * UDP_FRAME)}
    assert not lab.xdp_attached()
    # The socket queues in arrival order: once these 7 are in, any of the 200 that got through is
    # in too, so exactly 12 proves none did (no fixed wait for stragglers needed).
    send_udp(lab, rx.port, 7)
    assert wait_for(lambda: rx.drain() >= 12), "traffic does not flow again after bptraf -d exits"
    assert rx.drain() == 12, "a packet got past the drop program"


def test_pass_mode_passes_everything(addressed_lab, rx):
    lab = addressed_lab
    with Bptraf(lab.host, "--json", "-i", "0.2") as bp:
        bp.wait_ready()
        send_udp(lab, rx.port, 100)
        assert rx.expect(100) == 100
        count_until(bp, lab.host, 100)
        code, out, _ = bp.stop()
    assert totals(out, lab.host)["udp"] == (100, 100 * UDP_FRAME)


def test_kill_9_leaves_the_interface_clean(addressed_lab, rx):
    lab = addressed_lab
    with Bptraf(lab.host, "-d", "--json", "-i", "0.2") as bp:
        bp.wait_ready()
        assert lab.xdp_attached()
        bp.stop(signal.SIGKILL)
    assert wait_for(lambda: not lab.xdp_attached(), timeout=5), "program left attached after kill -9"
    send_udp(lab, rx.port, 9)
    assert rx.expect(9) == 9, "traffic does not flow after kill -9"


def test_second_instance_is_refused(lab):
    with Bptraf(lab.host, "--json", "-i", "0.2") as first:
        first.wait_ready()
        second = subprocess.run(
            [sys.executable, "-m", "bptraf", lab.host, "--json", "-c", "1"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 1
        assert "already has an XDP program (program id" in second.stderr
        assert "Traceback" not in second.stderr
        lab.send([KINDS[0].frame] * 3)
        count_until(first, lab.host, 3)
        code, out, _ = first.stop()
    assert code == 0
    assert totals(out, lab.host)["all"] == (3, 3 * len(KINDS[0].frame))
    assert not lab.xdp_attached()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_stop_signals_exit_0_and_detach(lab, sig):
    with Bptraf(lab.host, "--plain", "-i", "0.2") as bp:
        assert bp.readline().startswith(f"# {lab.host}: XDP native mode, pass")
        assert lab.xdp_attached()
        code, out, err = bp.stop(sig)
    assert (code, err) == (0, "")
    assert not lab.xdp_attached()


def test_count_ends_the_run_by_itself(lab):
    proc = subprocess.run(
        [sys.executable, "-m", "bptraf", lab.host, "--plain", "-i", "0.1", "-c", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("       all: ") == 3
    assert not lab.xdp_attached()


def test_deleted_interface_prints_last_sample_and_exits_1(lab):
    with Bptraf(lab.host, "--json", "-i", "0.2") as bp:
        bp.wait_ready()
        lab.send([KINDS[1].frame] * 4)
        count_until(bp, lab.host, 4)
        lab.destroy()
        code, out, err = bp.stop(signal.SIGCONT)  # no stop signal: it must notice by itself
    assert code == 1
    assert "was deleted; the kernel detached" in err and "Traceback" not in err
    assert totals(out, lab.host)["all"] == (4, 4 * len(KINDS[1].frame))


def test_piped_into_head_exits_quietly(lab):
    shell = f"{sys.executable} -m bptraf {lab.host} --plain -i 0.1 | head -n 2; echo rc=${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "rc=0"
    assert proc.stderr == ""
    assert not lab.xdp_attached()


def test_two_interfaces_are_counted_separately(lab):
    other = VethLab.create()
    try:
        with Bptraf(lab.host, other.host, "--json", "-i", "0.2") as bp:
            bp.wait_ready()
            lab.send([KINDS[0].frame] * 3)
            other.send([KINDS[1].frame] * 5)
            count_until(bp, lab.host, 3)
            count_until(bp, other.host, 5)
            code, out, _ = bp.stop()
        assert code == 0
        assert totals(out, lab.host)["all"] == (3, 3 * len(KINDS[0].frame))
        assert totals(out, other.host)["all"] == (5, 5 * len(KINDS[1].frame))
        assert not lab.xdp_attached() and not other.xdp_attached()
    finally:
        other.destroy()


def test_not_root_is_refused_before_compiling(lab):
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         sys.executable, "-m", "bptraf", lab.host, "--plain", "-c", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == "bptraf: root is needed (or CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON): run bptraf with sudo"
    )
    assert not lab.xdp_attached()
