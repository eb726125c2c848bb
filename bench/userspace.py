"""bptraf's own process: CPU% per output form and interval, peak RSS, time to the first sample."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
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


def cpu_percent(iface: str, form: str, interval: float, seconds: float) -> dict:
    """Run bptraf in one output form; CPU% of one core over `seconds` after start-up, and its RSS."""
    args = [sys.executable, "-m", "bptraf", iface, "-i", str(interval)]
    tmux_sock = None
    if form == "tui":
        tmux_sock = f"bptraf-bench-{secrets.token_hex(3)}"
        subprocess.run(["tmux", "-L", tmux_sock, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40",
                        f"cd {ROOT} && exec {' '.join(args)}"], check=True)  # fmt: skip
        pid = int(subprocess.run(["tmux", "-L", tmux_sock, "display", "-p", "#{pane_pid}"],
                                 capture_output=True, text=True, check=True).stdout)  # fmt: skip
        proc = None
    else:
        extra = ["--json"] if form == "json" else ["--plain"]
        proc = subprocess.Popen(args + extra, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        pid = proc.pid
    try:
        time.sleep(3.0)  # start-up (compile, attach) is measured separately
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"bptraf exited {proc.returncode}: {proc.stderr.read().strip()}")
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(seconds)
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


def first_sample(iface: str, runs: int = 5, extra: tuple[str, ...] = ()) -> dict:
    """Seconds from exec to the first sample (the first JSON line at -i 0.1, less the interval)."""
    ifaces = iface.split()
    times = []
    for _ in range(runs):
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "bptraf", *ifaces, "--json", "-i", "0.1", "-c", "1", *extra],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        if not proc.stdout.readline():  # the first sample
            raise RuntimeError(f"bptraf gave no sample: {proc.stderr.read().strip()}")
        times.append(time.monotonic() - start - 0.1)
        proc.communicate(timeout=20)
    times.sort()
    return {"median": times[len(times) // 2], "min": times[0], "max": times[-1]}


def first_sample_many(tb, n: int, extra: tuple[str, ...]) -> dict:
    """first_sample() over n interfaces: the testbed's receiver and n - 1 more veths (peers in its netns)."""
    names = [f"{tb.rx}x{i}" for i in range(1, n)]
    try:
        for i, name in enumerate(names, 1):
            subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", f"{tb.gen}x{i}", "netns", tb.ns],
                           check=True, capture_output=True)  # fmt: skip
            subprocess.run(["ip", "link", "set", name, "up"], check=True, capture_output=True)
        return first_sample(" ".join([tb.rx, *names]), extra=extra)
    finally:
        for name in names:
            subprocess.run(["ip", "link", "del", name], capture_output=True)


def verified_insns() -> dict:
    """Instructions the verifier walked per program variant, loaded for 8 interfaces (the most of any slot)."""
    import os

    from bptraf import libbpf, loader

    out = {}
    for action in ("pass", "drop", "egress"):
        progs, maps = loader.load(action, 8, loader.FLOWS_MAX_DEFAULT)[action]
        try:
            for features, fds in progs.items():
                label = (
                    f"{'bptraf -d' if action == 'drop' else 'bptraf'} {' '.join(f'--{n}' for n in features.names())}"
                )
                out[label.strip()] = max(libbpf.prog_verified_insns(fd) for fd in fds)
        finally:
            for fd in [fd for fds in progs.values() for fd in fds] + list(maps.values()):
                os.close(fd)
    return out
