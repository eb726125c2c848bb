"""What counting TX costs: kernel/egress.c against a bare tc program, and TCP throughput over a veth.

- BPF_PROG_TEST_RUN: the kernel's ns per packet of the egress programs and of bench/kernel/bare_tc.c
  (returns TC_ACT_UNSPEC, nothing else), per frame kind, plus a GSO packet (gso_segs and wire_len set
  through the test run's __sk_buff); bptraf's RX program and a bare XDP_DROP in the same rounds.
- bpf_stats: both programs on one veth's tcx egress chain at once, so they see the same frames; the
  kernel's run_time_ns / run_cnt of each (its own clock reads included), attach order alternating.
- Throughput: iperf3 TCP between two namespaces over a veth, bptraf watching the sender's end with
  and without TX counting (`--no-tx`), in interleaved pairs; nothing attached, for context.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import secrets
import socket
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

from bench.testrun import BENCH_KINDS, LOADS
from bptraf import libbpf

ROOT = Path(__file__).resolve().parent.parent
KERNEL = Path(__file__).resolve().parent / "kernel"
sys.path.insert(0, str(ROOT / "tests"))
from frames import KINDS, eth, ipv4, tcp  # noqa: E402

# struct __sk_buff offsets (include/uapi/linux/bpf.h) of the fields a test run may set.
SKB_WIRE_LEN, SKB_GSO_SEGS, SKB_GSO_SIZE, SKB_SIZE = 160, 164, 176, 192
GSO_SEGS, MSS, HDR = 44, 1448, 66
TARGET_NS_RATIO, TARGET_THROUGHPUT = 1.25, 0.97
PAIR_RATIO = "TX / bare tc, per round"  # next to the programs in each frame's test-run figures


def gso_case() -> tuple[bytes, bytes]:
    """A TSO packet's head (Ethernet, IPv4, TCP with 12 bytes of options, some payload) and the
    __sk_buff bytes that make it 44 segments of 1448 bytes."""
    head = eth(0x0800, ipv4(6, tcp(40000, 5201) + bytes(12) + bytes(1000)))
    ctx = bytearray(SKB_SIZE)
    struct.pack_into("=I", ctx, SKB_WIRE_LEN, len(head) + (GSO_SEGS - 1) * HDR)
    struct.pack_into("=I", ctx, SKB_GSO_SEGS, GSO_SEGS)
    struct.pack_into("=I", ctx, SKB_GSO_SIZE, MSS)
    return head, bytes(ctx)


def test_run(repeat: int = 4_000_000, rounds: int = 9) -> dict:
    """The kernel's ns per run, least and median of interleaved rounds; bptraf's RX program and a bare
    XDP_DROP in the same rounds, as the yardstick the RX parser was held to on this machine."""
    import bcc

    from bptraf.loader import load_programs
    from bptraf.source import Feature

    bare_tc = bcc.BPF(src_file=str(KERNEL / "bare_tc.c").encode())
    bare_xdp = bcc.BPF(src_file=str(KERNEL / "bare_drop.c").encode())
    skb, xdp = libbpf.test_run_skb, libbpf.test_run_xdp
    objs = [bare_tc, bare_xdp]
    progs: dict[str, tuple] = {
        "bare tc": (skb, [bare_tc.load_func(b"bench_bare_tc", bcc.BPF.SCHED_CLS).fd]),
        "bptraf TX": (skb, []),
        "bptraf TX --sizes": (skb, []),
        "bare XDP_DROP": (xdp, [bare_xdp.load_func(b"bench_bare_drop", bcc.BPF.XDP).fd]),
        "bptraf RX": (xdp, []),
    }
    for _ in range(LOADS):  # separate loads, their mean per round (bench/testrun.py's LOADS says why)
        tx_obj, tx_fds, _maps = load_programs(bcc, "egress", 1)
        rx_obj, rx_fds, _maps = load_programs(bcc, "pass", 1)
        objs += [tx_obj, rx_obj]
        progs["bptraf TX"][1].append(tx_fds[Feature.NONE][0])
        progs["bptraf TX --sizes"][1].append(tx_fds[Feature.SIZES][0])
        progs["bptraf RX"][1].append(rx_fds[Feature.NONE][0])
    by_name = {k.name: k.frame for k in KINDS}
    # The kernel's skb test run refuses an IPv4 frame without a whole IPv4 header: a cut option stands in.
    kinds = {**BENCH_KINDS, "IPv4, options cut short": "ipv4-options-cut"}
    del kinds["truncated IPv4"]
    cases = {label: (by_name[name], b"") for label, name in kinds.items()}
    cases[f"IPv4/TCP GSO, {GSO_SEGS} segments"] = gso_case()
    out: dict = {}
    try:
        for label, (frame, ctx) in cases.items():
            runs: dict[str, list[int]] = {p: [] for p in progs}
            for _ in range(rounds):
                for p, (fn, fds) in progs.items():
                    if ctx and fn is xdp:
                        continue  # GSO is an skb matter
                    each = repeat // len(fds)  # the mean over its loads (LOADS)
                    runs[p].append(statistics.mean([_least(fn, fd, frame, each, ctx) for fd in fds]))
            out[label] = {p: {"least": min(v), "median": statistics.median(v)} for p, v in runs.items() if v}
            out[label][PAIR_RATIO] = _spread([a / b for a, b in zip(runs["bptraf TX"], runs["bare tc"])])
    finally:
        for obj in objs:
            obj.cleanup()
    return out


def _least(fn, fd: int, frame: bytes, repeat: int, ctx: bytes, tries: int = 3) -> int:
    """The least average of `tries` test runs sharing `repeat` runs: other load on a shared VM only ever
    adds to an average (bench/testrun.py's ns_per_packet does the same for XDP)."""
    args = (ctx,) if ctx else ()
    return min(fn(fd, frame, max(repeat // tries, 1), *args)[1] for _ in range(tries))


def _sh(*cmd: str, check: bool = True) -> str:
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


class _Pair:
    """Two namespaces joined by a veth: a (198.18.0.5) and b (198.18.0.6); torn down on exit."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.a, self.b = f"bptraf-txa-{tag}", f"bptraf-txb-{tag}"
        self.ia, self.ib = f"bta{tag}", f"btb{tag}"
        self.addr_b = "198.18.0.6"

    def __enter__(self) -> _Pair:
        try:
            _sh("ip", "netns", "add", self.a)
            _sh("ip", "netns", "add", self.b)
            _sh("ip", "link", "add", self.ia, "netns", self.a, "type", "veth", "peer", "name", self.ib, "netns", self.b)
            for ns, dev, addr in ((self.a, self.ia, "198.18.0.5"), (self.b, self.ib, self.addr_b)):
                _sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1")
                _sh("ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev)
                _sh("ip", "-n", ns, "link", "set", dev, "up")
                _sh("ip", "-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        _sh("ip", "netns", "del", self.a, check=False)
        _sh("ip", "netns", "del", self.b, check=False)


# Where the throughput runs go on this 2-CPU machine: the iperf3 client, and with it the veth's receive
# path (veth_xmit queues to the local CPU's backlog), on one CPU; the server and bptraf's own process on
# the other. Unpinned, the scheduler moved them between runs and the per-pair ratio spread 0.85-1.16.
CLIENT_CPU, SERVER_CPU = 0, 1


def _iperf(pair: _Pair, seconds: float, omit: float) -> float:
    """bits/s received over `seconds`, after `omit` seconds of slow start left out (iperf3 -O)."""
    out = _sh("ip", "netns", "exec", pair.a, "iperf3", "-c", pair.addr_b, "-t", f"{seconds:g}", "-O", f"{omit:g}",
              "-A", str(CLIENT_CPU), "-J", "-p", "5201")  # fmt: skip
    return json.loads(out)["end"]["sum_received"]["bits_per_second"]


def _wait_listening(ns: str, port: int, timeout: float = 10.0) -> None:
    """Poll the namespace's listening sockets until `port` is there (iperf3 has no readiness signal)."""
    deadline = time.monotonic() + timeout
    while f":{port} " not in _sh("ip", "netns", "exec", ns, "ss", "-Hltn"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"iperf3 did not listen on port {port} within {timeout:g}s")
        time.sleep(0.05)


def _bptraf(pair: _Pair, *extra: str) -> subprocess.Popen:
    """bptraf on the sender's end, on the server's CPU, attached (its first JSON line read) when this returns."""
    cmd = ["taskset", "-c", str(SERVER_CPU), "ip", "netns", "exec", pair.a, sys.executable, "-m", "bptraf", pair.ia,
           "--json", "-i", "1", *extra]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not proc.stdout.readline():
        proc.kill()
        raise RuntimeError(f"bptraf did not start: {proc.communicate()[1]}")
    return proc


def throughput(runs: int = 6, seconds: float = 45.0, period: float = 0.4, margin: float = 0.1) -> dict:
    """TCP throughput with TX counting on against off, in adjacent periods of one iperf3 run.

    bptraf runs with `--no-tx` on the sender's end throughout (its XDP program on receive, as in both
    arms); this process attaches and detaches the egress program bptraf attaches with TX on (the same
    variant, its own tcx link) every `period` seconds, so on and off alternate within a second under
    the same load, not a run apart. iperf3 reports every 0.1 s; intervals within `margin` of a switch
    are left out. Each on period is set against the mean of the off periods either side of it (drift
    cancels), and the ratios' median gets a distribution-free 95% confidence interval. Runs alternate
    which state comes first. Separate runs, bptraf restarted between arms, gave per-pair ratios of
    0.37-1.61 on this shared 2-CPU VM: the load changed more between runs than TX counting costs."""
    import bcc

    from bptraf.loader import load_programs
    from bptraf.source import Feature

    per: dict[str, list[float]] = {"bptraf --no-tx": [], "bptraf (TX on)": []}
    ratios: list[float] = []
    obj, fds, _maps = load_programs(bcc, "egress", 1)
    try:
        with _Pair() as pair:
            server = subprocess.Popen(["ip", "netns", "exec", pair.b, "iperf3", "-s", "-B", pair.addr_b, "-p", "5201",
                                       "-A", str(SERVER_CPU)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            proc = None
            try:
                _wait_listening(pair.b, 5201)
                proc = _bptraf(pair, "--no-tx")
                for r in range(runs):
                    on, off = _toggled_run(pair, fds[Feature.NONE][0], seconds, period, margin, on_first=r % 2 == 1)
                    per["bptraf (TX on)"] += on
                    per["bptraf --no-tx"] += off
                    ratios += [x / ((a + b) / 2) for a, x, b in zip(off, on, off[1:]) if a and x and b]
            finally:
                if proc is not None:
                    proc.terminate()
                    proc.communicate(timeout=20)
                server.kill()
                server.wait()
    finally:
        obj.cleanup()
    out: dict = {arm: _spread(v) for arm, v in per.items()}
    out["ratio_tx_on_to_off"] = {**_spread(ratios), **median_ci(ratios)}
    out["ratios"] = ratios
    out["load"] = os.getloadavg()
    return out


def _toggled_run(
    pair: _Pair, prog_fd: int, seconds: float, period: float, margin: float, on_first: bool
) -> tuple[list[float], list[float]]:
    """One iperf3 run with the egress program attached in every other period: (bits/s of each on period,
    bits/s of each off period), in time order, so that off[i], on[i], off[i + 1] are adjacent
    (a run that starts on drops its first period to keep that shape)."""
    client = ["ip", "netns", "exec", pair.a, "iperf3", "-c", pair.addr_b, "-t", f"{seconds:g}", "-i", "0.1",
              "-A", str(CLIENT_CPU), "-J", "-p", "5201"]  # fmt: skip
    link = -1
    with _netns(pair.a):
        ifindex = socket.if_nametoindex(pair.ia)
        t0 = time.monotonic()
        iperf = subprocess.Popen(client, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            k = 0
            while iperf.poll() is None and k * period < seconds + 5:
                want = (k % 2 == 0) == on_first
                if want and link < 0:
                    link = libbpf.link_create_tcx_egress(prog_fd, ifindex)
                elif not want and link >= 0:
                    os.close(link)
                    link = -1
                k += 1
                time.sleep(max(t0 + k * period - time.monotonic(), 0))
            out, _ = iperf.communicate(timeout=seconds + 30)
        finally:
            if link >= 0:
                os.close(link)
            if iperf.poll() is None:
                iperf.kill()
                iperf.wait()
    # The switches were timed from launch, the intervals from the test's start a little later: the margin
    # covers the gap. Bytes per period from the intervals wholly inside it, away from both switches.
    sums: dict[int, list[float]] = {}
    for iv in json.loads(out)["intervals"]:
        a, b = iv["sum"]["start"], iv["sum"]["end"]
        k = int(a // period)
        if a - k * period >= margin and (k + 1) * period - b >= margin:
            sums.setdefault(k, [0.0, 0.0])
            sums[k][0] += iv["sum"]["bytes"] * 8
            sums[k][1] += b - a
    rate = {k: bits / secs for k, (bits, secs) in sums.items() if secs > 0}
    first, last = (1, max(rate)) if on_first else (0, max(rate))  # start with an off period
    ks = [k for k in range(first, last + 1)]
    off = [rate.get(k, 0.0) for k in ks[0::2]]
    on = [rate.get(k, 0.0) for k in ks[1::2]]
    return on[: max(len(off) - 1, 0)], off


@contextlib.contextmanager
def _netns(name: str):
    """This thread in network namespace `name` (ifindexes and tcx links are per namespace), then back."""
    libc = ctypes.CDLL(None, use_errno=True)
    clone_newnet = 0x40000000
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(target, clone_newnet) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {name}")
        try:
            yield
        finally:
            if libc.setns(home, clone_newnet) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(target)
        os.close(home)


def median_ci(values: list[float], level: float = 0.95) -> dict:
    """A distribution-free confidence interval of the median: the order statistics whose ranks a
    Binomial(n, 1/2) count stays within with probability `level` (no assumption about the noise)."""
    xs, n = sorted(values), len(values)
    k, tail = 0, 0.0
    while k < n // 2:
        nxt = tail + math.comb(n, k) / 2**n
        if nxt > (1 - level) / 2:
            break
        tail, k = nxt, k + 1
    return {"ci_low": xs[k], "ci_high": xs[n - 1 - k], "ci_level": 1 - 2 * tail if k else 1.0}


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _prog_stats(fd: int) -> tuple[int, int]:
    info = dict(line.split(":", 1) for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines() if ":" in line)
    return int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0))


def bpf_stats(rounds: int = 12, frames: int = 100_000) -> dict:
    """ns per run from the kernel's bpf_stats, both programs on one veth's egress, 60-byte UDP frames
    sent from this namespace; each round attaches them in the other order, and takes the next of LOADS
    separate loads of bptraf's program (bench/testrun.py's LOADS says why)."""
    import bcc

    from bptraf.loader import load_programs
    from bptraf.source import Feature

    frame = next(k.frame for k in KINDS if k.name == "ipv4-udp")
    enabled = Path("/proc/sys/kernel/bpf_stats_enabled")
    before = enabled.read_text()
    tag = secrets.token_hex(3)
    ns, host, peer = f"bptraf-txs-{tag}", f"bts{tag}a", f"bts{tag}b"
    bare = bcc.BPF(src_file=str(KERNEL / "bare_tc.c").encode())
    loaded = [load_programs(bcc, "egress", 1) for _ in range(LOADS)]
    tx_fds = [fds[Feature.NONE][0] for _obj, fds, _maps in loaded]
    bare_fd = bare.load_func(b"bench_bare_tc", bcc.BPF.SCHED_CLS).fd
    per_run: dict[str, list[float]] = {"bare tc": [], "bptraf TX": []}
    try:
        _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
        _sh("sysctl", "-qw", f"net.ipv6.conf.{host}.disable_ipv6=1")
        _sh("ip", "link", "set", host, "up")
        _sh("ip", "-n", ns, "link", "set", peer, "up")
        enabled.write_text("1")
        ifindex = socket.if_nametoindex(host)
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((host, 0))
            for r in range(rounds):
                progs = {"bare tc": bare_fd, "bptraf TX": tx_fds[r // 2 % LOADS]}  # each load in both orders
                order = list(progs) if r % 2 == 0 else list(reversed(progs))
                links = [libbpf.link_create_tcx_egress(progs[p], ifindex) for p in order]
                try:
                    start = {p: _prog_stats(fd) for p, fd in progs.items()}
                    for i in range(frames):
                        s.send(frame)
                        if i % 64 == 63:
                            time.sleep(0.0002)  # the peer's backlog, not this loop, sets the pace
                    for p, fd in progs.items():
                        t, n = _prog_stats(fd)
                        per_run[p].append((t - start[p][0]) / max(n - start[p][1], 1))
                finally:
                    for link in links:
                        os.close(link)
    finally:
        enabled.write_text(before)
        _sh("ip", "link", "del", host, check=False)
        _sh("ip", "netns", "del", ns, check=False)
        for obj, _fds, _maps in loaded:
            obj.cleanup()
        bare.cleanup()
    out = {p: _spread(v) for p, v in per_run.items()}
    out["ratio"] = _spread([a / b for a, b in zip(per_run["bptraf TX"], per_run["bare tc"])])
    return out


def measure() -> dict:
    print("bench: egress test runs", flush=True)
    result = {"test_run_ns": test_run()}
    print("bench: egress bpf_stats", flush=True)
    result["bpf_stats_ns"] = bpf_stats()
    print("bench: egress TCP throughput", flush=True)
    result["throughput_bps"] = throughput()
    return result


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(e: dict) -> str:
    """The egress section of results.md; a part not measured (`python -m bench --kernel` leaves out the
    throughput) is left out."""
    out = [
        "",
        "## Counting what is sent (tc egress, tcx)",
        "",
        "BPF_PROG_TEST_RUN, the kernel's ns/packet (whole ns; each figure the least of 3 test runs sharing "
        f"4,000,000 runs; bptraf's programs the mean of {LOADS} separate loads, since a load's speed depends on "
        "where its map lands), median (least) of 9 interleaved rounds, and TX / bare as the median (min–max) of "
        "the 9 per-round ratios; bptraf's RX program against a bare XDP_DROP in the same rounds, for scale:",
        "",
        f"| frame | bare tc | bptraf TX | TX --sizes | TX / bare (≤ {TARGET_NS_RATIO}) | bare XDP | bptraf RX | RX / bare |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, v in e.get("test_run_ns", {}).items():
        med = {p: x["median"] for p, x in v.items() if p != PAIR_RATIO}
        cell = {p: f"{x['median']:.1f} ({x['least']:.1f})" for p, x in v.items() if p != PAIR_RATIO}
        pair = v.get(PAIR_RATIO)  # older results: the ratio of the medians
        ratio = pair["median"] if pair else med["bptraf TX"] / med["bare tc"]
        shown = _fmt(pair, ".3f") if pair else f"{ratio:.3f}"
        rx = f"{med['bptraf RX'] / med['bare XDP_DROP']:.3f}" if "bptraf RX" in med else "–"
        out.append(
            f"| {label} | {cell['bare tc']} | {cell['bptraf TX']} | {cell['bptraf TX --sizes']} | "
            f"{shown} {_verdict(ratio <= TARGET_NS_RATIO)} | {cell.get('bare XDP_DROP', '–')} | "
            f"{cell.get('bptraf RX', '–')} | {rx} |"
        )
    if s := e.get("bpf_stats_ns"):
        out += [
            "",
            "Under traffic (60-byte UDP frames out of a veth, both programs on its egress chain), from the kernel's "
            "bpf_stats (run_time_ns / run_cnt, its clock reads included), median (min–max) of "
            f"{s['ratio']['n']} rounds, {LOADS} separate loads of bptraf's program in turn, each in both orders:",
            "",
            "| program | ns/run |",
            "|---|---|",
            *(f"| {p} | {_fmt(s[p], '.1f')} |" for p in ("bare tc", "bptraf TX")),
            f"| ratio | {_fmt(s['ratio'], '.3f')} {_verdict(s['ratio']['median'] <= TARGET_NS_RATIO)} |",
        ]
    if t := e.get("throughput_bps"):
        out += [
            "",
            "TCP throughput, iperf3 between two namespaces over a veth, `bptraf --no-tx` on the sender's end "
            "throughout, and the egress program bptraf attaches with TX on attached and detached every 0.4 s "
            "(its own tcx link); client (and the veth's receive path) pinned to one CPU, server and bptraf to the "
            "other; iperf3's 0.1-s intervals at least 0.1 s from a switch; each on period against the off periods "
            "either side of it; six 45-s runs; median (min–max) over the periods:",
            "",
            "| case | Gbit/s |",
            "|---|---|",
        ]
        for arm in ("nothing attached", "bptraf --no-tx", "bptraf (TX on)"):
            if arm not in t:
                continue
            out.append(f"| {arm} | {_fmt({k: v / 1e9 if k != 'n' else v for k, v in t[arm].items()}, '.2f')} |")
        r = t["ratio_tx_on_to_off"]
        if "ci_low" in r:
            ci = f"; {r['ci_level']:.0%} CI of the median {r['ci_low']:.3f}–{r['ci_high']:.3f}"
            if r["ci_low"] >= TARGET_THROUGHPUT:
                verdict = "met"
            elif r["ci_high"] < TARGET_THROUGHPUT:
                verdict = "**missed**"
            else:
                verdict = "undecided (the CI straddles the target)"
        else:  # older results
            ci, verdict = "", _verdict(r["median"] >= TARGET_THROUGHPUT)
        out.append(f"| TX on / --no-tx, per pair (n={r['n']}) | {_fmt(r, '.3f')}{ci} {verdict} |")
    return "\n".join(out) + "\n"


def _fmt(s: dict, spec: str) -> str:
    return f"{s['median']:{spec}} ({s['min']:{spec}}–{s['max']:{spec}})"


def main(here: Path = Path(__file__).resolve().parent) -> None:
    """`python -m bench --egress`: this section alone, into bench/egress.{json,md}."""
    result = measure()
    (here / "egress.json").write_text(json.dumps(result, indent=2) + "\n")
    (here / "egress.md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
