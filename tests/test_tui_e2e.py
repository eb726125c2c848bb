"""The real TUI in tmux on a veth pair: live non-zero rates on screen, clean exits, nothing left attached."""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from netlab import HOST_ADDR
from runner import ROOT, wait_for

pytestmark = pytest.mark.bpf


class Tmux:
    """A private tmux server running bptraf in a pane; its exit status lands in a file."""

    def __init__(self, args: tuple[str, ...], status: Path, size: tuple[int, int] = (100, 30)) -> None:
        self.sock = f"bptraf-test-{secrets.token_hex(3)}"
        self.status = status
        cmd = f"cd {ROOT} && {sys.executable} -m bptraf {' '.join(args)}; echo $? > {status}; sleep 60"
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", str(size[0]), "-y", str(size[1]), cmd)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "t")

    def bptraf_pid(self) -> int:
        shell = self.tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip()
        return int(subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True, check=True).stdout.split()[0])

    def exit_status(self) -> int | None:
        """bptraf's exit status once it has ended (128+N when a signal N killed it), else None."""
        text = self.status.read_text().strip() if self.status.exists() else ""
        return int(text) if text else None

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def tmux_bptraf(addressed_lab, tmp_path):
    sessions: list[Tmux] = []

    def start(*args: str) -> Tmux:
        t = Tmux(args, tmp_path / f"status-{len(sessions)}")
        sessions.append(t)
        return t

    yield start
    for t in sessions:
        t.close()


def traffic(lab, seconds: float = 3.0, per_burst: int = 50) -> threading.Thread:
    """Bounded UDP traffic from the peer: at most `seconds` long."""
    code = (
        "import socket,time\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        f"end=time.monotonic()+{seconds}\n"
        "while time.monotonic()<end:\n"
        f"    try: [s.sendto(bytes(64),('{HOST_ADDR}',9)) for _ in range({per_burst})]\n"
        "    except OSError: pass\n"
        "    time.sleep(0.01)\n"
    )
    t = threading.Thread(target=lab.in_ns, args=(sys.executable, "-c", code), kwargs={"check": False}, daemon=True)
    t.start()
    return t


def all_row(screen: str) -> str:
    return next((line for line in screen.splitlines() if line.strip().startswith("all ")), "")


@pytest.mark.parametrize("how", ["q", "SIGTERM", "SIGHUP"])
def test_tui_shows_live_rates_and_quits_clean(addressed_lab, tmux_bptraf, how):
    lab = addressed_lab
    t = tmux_bptraf(lab.host, "-i", "0.2")
    assert wait_for(lambda: f"{lab.host} native pass" in t.screen(), timeout=20), t.screen()
    assert lab.xdp_attached()
    sender = traffic(lab)
    # The `all` row's pps cell shows a non-zero rate, e.g. `all   2450 ...` or `all  12.5 K ...`.
    assert wait_for(lambda: re.match(r"\s*all\s+[1-9]", all_row(t.screen())), timeout=10), t.screen()
    # `h` hides the idle classes, so UDP's row is on screen whatever the size, with a live rate.
    t.tmux("send-keys", "-t", "t", "h")
    assert wait_for(lambda: re.search(r"^\s*UDP\s+[1-9]", t.screen(), re.M), timeout=10), t.screen()
    assert not re.search(r"^\s*IPv6\s", t.screen(), re.M)
    if how == "q":
        t.tmux("send-keys", "-t", "t", "q")
    else:
        subprocess.run(["kill", f"-{getattr(signal, how).value}", str(t.bptraf_pid())], check=True)
    assert wait_for(lambda: t.exit_status() is not None, timeout=15), t.screen()
    assert t.exit_status() == 0
    assert "Traceback" not in t.screen()
    assert not lab.xdp_attached()
    sender.join(timeout=10)


def test_tui_drop_banner(addressed_lab, tmux_bptraf):
    lab = addressed_lab
    t = tmux_bptraf(lab.host, "-d", "-i", "0.2")
    assert wait_for(lambda: "DROP MODE: every packet arriving on" in t.screen(), timeout=20), t.screen()
    t.tmux("send-keys", "-t", "t", "q")
    assert wait_for(lambda: t.exit_status() is not None, timeout=15)
    assert t.exit_status() == 0
    assert not lab.xdp_attached()


def test_tui_kill_9_leaves_nothing_attached(addressed_lab, tmux_bptraf):
    lab = addressed_lab
    t = tmux_bptraf(lab.host, "-i", "0.2")
    assert wait_for(lambda: f"{lab.host} native pass" in t.screen(), timeout=20), t.screen()
    subprocess.run(["kill", "-9", str(t.bptraf_pid())], check=True)
    assert wait_for(lambda: t.exit_status() is not None, timeout=15)
    assert t.exit_status() == 128 + signal.SIGKILL
    assert wait_for(lambda: not lab.xdp_attached(), timeout=5)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP"])
def test_stop_signal_during_start_up_exits_0(addressed_lab, tmux_bptraf, how):
    """The README's promise holds from the first instant: a stop signal while bptraf is still loading
    its program ends it with 0 and nothing attached."""
    lab = addressed_lab
    t = tmux_bptraf(lab.host, "-i", "0.1")

    def stop_signals_blocked() -> bool:
        # From main()'s first line on, bptraf holds the stop signals blocked until the TUI takes them.
        try:
            status = Path(f"/proc/{t.bptraf_pid()}/status").read_text()
        except (OSError, subprocess.CalledProcessError, IndexError):
            return False
        blocked = int(next(line for line in status.splitlines() if line.startswith("SigBlk:")).split()[1], 16)
        return bool(blocked & (1 << (signal.SIGTERM - 1)))

    assert wait_for(stop_signals_blocked, timeout=10, step=0.01)
    subprocess.run(["kill", f"-{getattr(signal, how).value}", str(t.bptraf_pid())], check=True)
    assert wait_for(lambda: t.exit_status() is not None, timeout=15), t.screen()
    assert t.exit_status() == 0, t.screen()
    assert not lab.xdp_attached()


def test_tui_draws_on_the_terminal_when_stderr_is_redirected(addressed_lab, tmux_bptraf, tmp_path):
    lab = addressed_lab
    log = tmp_path / "err.log"
    t = tmux_bptraf(lab.host, "-i", "0.2", f"2>{log}")
    assert wait_for(lambda: f"{lab.host} native pass" in t.screen(), timeout=20), t.screen()
    t.tmux("send-keys", "-t", "t", "q")
    assert wait_for(lambda: t.exit_status() is not None, timeout=15)
    assert t.exit_status() == 0
    assert "\x1b" not in log.read_text()


def test_kernel_panel_and_a_link_local_flow_on_a_real_veth(addressed_lab, tmux_bptraf):
    """The kernel's RX line counts what the peer sent (TX stays near zero), and a flow from fe80::1
    shows with its address intact (never read as markup)."""
    from frames import eth, ipv6, udp

    lab = addressed_lab
    t = tmux_bptraf(lab.host, "-i", "0.2", "--flows")
    assert wait_for(lambda: f"{lab.host} native pass" in t.screen(), timeout=20), t.screen()
    frame = eth(0x86DD, ipv6(17, udp(5353, 5353)))
    frame = frame.replace(
        bytes.fromhex("fd000000000000000000000000000002"), bytes.fromhex("fe800000000000000000000000000001")
    )

    def seen() -> bool:
        lab.send([frame] * 200)
        screen = t.screen()
        rx = re.search(r"kernel RX\s+(\S+)", screen)
        return "[fe80::1]:5353" in screen and rx is not None and rx.group(1) != "0"

    assert wait_for(seen, timeout=20, step=0.2), t.screen()
    tx = re.search(r"TX\s+(\d+) pps", t.screen())
    assert tx is not None and int(tx.group(1)) < 50, t.screen()  # the host sent next to nothing
    t.tmux("send-keys", "-t", "t", "q")
    assert wait_for(lambda: t.exit_status() is not None, timeout=15)
    assert not lab.xdp_attached()
