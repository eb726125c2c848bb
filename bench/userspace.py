"""bptraf's own process: CPU% per output form and interval, peak RSS, time to the first sample."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid`, in ns resolution (schedstat), unlike stat's clock ticks."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_percent(
    iface: str,
    form: str,
    interval: float,
    seconds: float,
    extra: tuple[str, ...] = (),
    size: tuple[int, int] = (120, 40),
) -> dict:
    """Run bptraf in one output form; CPU% of one core over `seconds` after start-up, and its RSS.
    The TUI runs in a tmux pane of `size`; `extra` adds options (the TUI's cost: `--sizes --flows`)."""
    args = [sys.executable, "-m", "bptraf", iface, "-i", str(interval), *extra]
    tmux_sock = None
    if form == "tui":
        tmux_sock = f"bptraf-bench-{secrets.token_hex(3)}"
        err_log = f"/tmp/{tmux_sock}.err"  # the TUI draws on stdout: stderr keeps its one-line errors
        subprocess.run(["tmux", "-L", tmux_sock, "-f", "/dev/null", "new-session", "-d", "-x", str(size[0]), "-y", str(size[1]),
                        f"cd {ROOT} && exec {' '.join(args)} 2>{err_log}"], check=True)  # fmt: skip
        pid = int(subprocess.run(["tmux", "-L", tmux_sock, "display", "-p", "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout)  # fmt: skip
        proc = None
    else:
        extra = ["--json"] if form == "json" else ["--plain"]
        proc = subprocess.Popen(args + extra, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        pid = proc.pid
    try:
        time.sleep(3.0)  # start-up (compile, attach) is measured separately
        if tmux_sock:
            # The TUI's own start-up (imports, layout) costs about a second of CPU: measure after it.
            deadline = time.monotonic() + 30
            while (
                time.monotonic() < deadline
                and "every "
                not in subprocess.run(
                    ["tmux", "-L", tmux_sock, "capture-pane", "-p"], capture_output=True, text=True
                ).stdout
            ):
                time.sleep(0.2)
            time.sleep(5.0)
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"bptraf exited {proc.returncode}: {proc.stderr.read().strip()}")
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
        if not Path(f"/proc/{pid}").exists():
            raise RuntimeError(f"bptraf ended early: {Path(err_log).read_text().strip() if tmux_sock else ''}")
        c1, t1 = cpu_seconds(pid), time.monotonic()
        rss = status_kb(pid, "VmRSS")
        hwm = status_kb(pid, "VmHWM")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        if tmux_sock:
            subprocess.run(["tmux", "-L", tmux_sock, "kill-server"], capture_output=True)
            # The TUI takes the SIGHUP as a quit: wait until it has detached, or the next run finds
            # the interface taken.
            deadline = time.monotonic() + 15
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
    return {"cpu_percent": 100 * (c1 - c0) / (t1 - t0), "rss_kb": rss, "peak_rss_kb": hwm}


def first_sample(iface: str, runs: int = 5, extra: tuple[str, ...] = (), cache: str = "") -> dict:
    """Seconds from exec to the first sample (the first JSON line at -i 0.1, less the interval).

    `cache` is bptraf's cache directory (BPTRAF_CACHE_DIR): empty, every run compiles, as a first run
    does; else one run fills it first, untimed, and every timed run loads what it holds."""
    ifaces = iface.split()
    args = [sys.executable, "-m", "bptraf", *ifaces, "--json", "-i", "0.1", "-c", "1", *extra]
    env = {**os.environ, "BPTRAF_CACHE_DIR": cache}
    times = []
    for i in range(runs + bool(cache)):
        start = time.monotonic()
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if not proc.stdout.readline():  # the first sample
            raise RuntimeError(f"bptraf gave no sample: {proc.stderr.read().strip()}")
        if i or not cache:
            times.append(time.monotonic() - start - 0.1)
        proc.communicate(timeout=20)
    times.sort()
    return {"median": times[len(times) // 2], "min": times[0], "max": times[-1]}


def first_sample_many(tb, n: int, extra: tuple[str, ...], runs: int = 5, cache: str = "") -> dict:
    """first_sample() over n interfaces: the testbed's receiver and n - 1 more veths (peers in its netns)."""
    names = [f"{tb.rx}x{i}" for i in range(1, n)]
    try:
        for i, name in enumerate(names, 1):
            subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", f"{tb.gen}x{i}", "netns", tb.ns],
                           check=True, capture_output=True)  # fmt: skip
            subprocess.run(["ip", "link", "set", name, "up"], check=True, capture_output=True)
        return first_sample(" ".join([tb.rx, *names]), runs, extra, cache)
    finally:
        for name in names:
            subprocess.run(["ip", "link", "del", name], capture_output=True)


def startup(tb, runs: int = 5) -> dict:
    """Start to first sample, 1 interface and 8 with --flows --sizes: with the programs cached by an
    earlier run (every run after the first), and compiled afresh (a first run, or after an upgrade)."""
    with tempfile.TemporaryDirectory(prefix="bptraf-bench-cache-") as cache:
        return {
            "first_sample": first_sample(tb.rx, runs, cache=cache),
            "first_sample_8": first_sample_many(tb, 8, ("--flows", "--sizes"), runs, cache),
            "first_sample_cold": first_sample(tb.rx, runs),
            "first_sample_8_cold": first_sample_many(tb, 8, ("--flows", "--sizes"), runs),
        }


def verified_insns() -> dict:
    """Instructions the verifier walked per program variant, loaded for 8 interfaces (the most of any slot)."""
    from bptraf import libbpf, loader

    out = {}
    names = {"pass": "bptraf", "drop": "bptraf -d", "egress": "bptraf TX (tc egress)"}
    for action in ("pass", "drop", "egress"):
        # Egress is built after the receive side, as bptraf runs it: its flows variants use count.c's tables.
        also = ("egress",) if action == "egress" else ()
        loaded = loader.load("pass" if also else action, 8, loader.FLOWS_MAX_DEFAULT, also=also)
        progs, _maps = loaded[action]
        try:
            for features, fds in progs.items():
                label = f"{names[action]} {' '.join(f'--{n}' for n in features.names())}"
                out[label.strip()] = max(libbpf.prog_verified_insns(fd) for fd in fds)
        finally:
            for p, m in loaded.values():
                for fd in [fd for fds in p.values() for fd in fds] + list(m.values()):
                    os.close(fd)
    return out


def flows_traffic(in_ns, flows: int = 16, seconds: float = 40.0, per_flow_pps: int = 500):
    """`flows` UDP flows to 198.18.0.1 from the sender's namespace (`in_ns` runs a command there),
    bounded in time: the load under which the TUI's cost is measured."""
    import threading

    code = (
        "import socket,time\n"
        f"ss=[socket.socket(socket.AF_INET,socket.SOCK_DGRAM) for _ in range({flows})]\n"
        f"end=time.monotonic()+{seconds}\n"
        "while time.monotonic()<end:\n"
        "    for i,s in enumerate(ss):\n"
        f"        try: [s.sendto(bytes(200+50*i),('198.18.0.1',9000+i)) for _ in range({max(per_flow_pps // 100, 1)})]\n"
        "        except OSError: pass\n"
        "    time.sleep(0.01)\n"
    )
    t = threading.Thread(target=in_ns, args=(sys.executable, "-c", code), daemon=True)
    t.start()
    return t


def tui_cost(iface: str, in_ns, repeats: int = 5, seconds: float = 20.0) -> dict:
    """The TUI at -i 1 with --sizes --flows, 16 live flows, 120x40: CPU% and RSS, median of `repeats`."""
    runs = []
    load0 = Path("/proc/loadavg").read_text().split()[0]
    for _ in range(repeats):
        sender = flows_traffic(in_ns, seconds=seconds + 8)
        runs.append(cpu_percent(iface, "tui", 1.0, seconds, ("--sizes", "--flows")))
        sender.join(timeout=seconds + 20)
    cpu = sorted(r["cpu_percent"] for r in runs)
    rss = sorted(r["rss_kb"] for r in runs)
    return {"cpu_percent_median": cpu[len(cpu) // 2], "cpu_percent_min": cpu[0], "cpu_percent_max": cpu[-1],
            "rss_mib_median": rss[len(rss) // 2] / 1024, "rss_mib_max": rss[-1] / 1024, "runs": runs,
            "loadavg": [load0, Path("/proc/loadavg").read_text().split()[0]]}  # fmt: skip


def render_tui(tf: dict) -> str:
    """tui_cost()'s result as the lines bench/tui.md holds."""
    runs = ", ".join(f"{r['cpu_percent']:.2f}" for r in tf["runs"])
    ok = tf["cpu_percent_median"] <= 2 and tf["rss_mib_max"] <= 60
    return (
        f"- TUI at -i 1 with --sizes --flows, 16 live flows, 120x40: {tf['cpu_percent_median']:.2f}% of a core, "
        f"median of {len(tf['runs'])} ({tf['cpu_percent_min']:.2f}–{tf['cpu_percent_max']:.2f}; runs {runs}), "
        f"{tf['rss_mib_median']:.1f} MiB RSS (max {tf['rss_mib_max']:.1f}); targets ≤ 2% and ≤ 60 MiB: "
        f"{'met' if ok else '**missed**'}\n"
        f"- load average over the runs: {tf['loadavg'][0]} at the start, {tf['loadavg'][1]} at the end "
        "(other work on the machine adds to the figures)\n"
    )
