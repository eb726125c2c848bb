"""The contract under faults, on real veth pairs: every stop ends bptraf promptly with nothing attached,
and every failure is one line on stderr with its exit code."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import termios
import time

import psutil
import pytest
from netlab import VethLab, sh
from runner import ROOT, Bptraf, wait_for

from bptraf import limits

pytestmark = pytest.mark.bpf

STOP_WITHIN_S = 2.0  # the contract: a stop signal ends bptraf within this, whatever it is doing


def bptraf(*args: str, shell: str = "", stdout=subprocess.PIPE, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run bptraf to the end; `shell` is run first by /bin/sh (a ulimit, a redirection)."""
    cmd = [sys.executable, "-m", "bptraf", *args]
    if shell:
        cmd = ["sh", "-c", f'{shell}; exec "$@"', "sh", *cmd]
    return subprocess.run(cmd, cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=timeout)


def one_line(err: str) -> str:
    """stderr as one `bptraf: ...` line and no traceback; returns it."""
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith("bptraf: ") and not err.startswith("bptraf: bptraf"), err
    return err.strip()


def only_notes(err: str) -> list[str]:
    lines = err.splitlines()
    assert "Traceback" not in err and all(line.startswith("bptraf: ") for line in lines), err
    return lines


def loader_child(proc: subprocess.Popen, timeout: float = 20.0) -> psutil.Process:
    found: list[psutil.Process] = []

    def look() -> bool:
        found[:] = [c for c in psutil.Process(proc.pid).children() if "bptraf.build" in " ".join(c.cmdline())]
        return bool(found)

    assert wait_for(look, timeout=timeout), "no loader child appeared"
    return found[0]


def blocked_signals(pid: int) -> int:
    """The SigBlk mask of a process (a thread group leader), -1 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1], 16) for line in f if line.startswith("SigBlk:"))
    except (OSError, StopIteration):
        return -1


def wait_exit(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"bptraf did not end within {timeout} s") from None


# -- stop signals -------------------------------------------------------------------------------
def test_a_stalled_reader_does_not_keep_drop_mode_running(lab, tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # held open, never read
    try:
        fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)
        with open(fifo, "w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bptraf", lab.host, "-d", "--json", "-i", "0.1"],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.PIPE,
                text=True,
            )
        try:
            queued = bytearray(4)

            def pipe_full() -> bool:
                fcntl.ioctl(reader, termios.FIONREAD, queued)
                return int.from_bytes(queued, sys.byteorder) > 4096 - 400

            assert wait_for(pipe_full, timeout=30), "bptraf never filled the pipe"
            # The writer thread is blocked in write() now; bptraf goes on counting and queueing.
            assert proc.poll() is None and lab.xdp_attached()
            proc.send_signal(signal.SIGTERM)
            code = wait_exit(proc, STOP_WITHIN_S)
            assert not lab.xdp_attached()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        err = proc.stderr.read()
        assert code == 0, err
        notes = only_notes(err)
        assert notes[-1].startswith("bptraf: stdout's reader is not reading:")
    finally:
        os.close(reader)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_stop_during_a_stalled_compile_ends_bptraf(lab, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "bptraf", lab.host, "--json"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        child = loader_child(proc)
        # bptraf blocks its stop signals; the loader must not keep them blocked (it unblocks at start).
        assert blocked_signals(proc.pid) & (1 << (sig - 1))
        assert wait_for(lambda: blocked_signals(child.pid) == 0, timeout=10)
        child.send_signal(signal.SIGSTOP)
        proc.send_signal(sig)
        code = wait_exit(proc, STOP_WITHIN_S)
        assert not lab.xdp_attached()
        assert wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
    assert (code, out, err) == (0, "", "")


def test_a_sigkilled_bptraf_takes_its_loader_along_silently(lab, tmp_path):
    errors = tmp_path / "err"
    with open(errors, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bptraf", lab.host, "--json"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        child = loader_child(proc)
        proc.kill()
        proc.wait()
        assert wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert errors.read_text() == ""
    assert not lab.xdp_attached()


# -- output errors ------------------------------------------------------------------------------
def test_a_full_disk_on_stdout_is_one_line(lab):
    with open("/dev/full", "w") as full:
        proc = bptraf(lab.host, "--json", "-c", "3", "-i", "0.1", stdout=full)
    assert proc.returncode == 1
    assert one_line(proc.stderr) == "bptraf: cannot write to stdout: No space left on device"
    assert not lab.xdp_attached()


def test_a_closed_stdout_is_refused_before_attaching(lab):
    proc = bptraf(lab.host, "--json", "-c", "1", shell="exec >&-", stdout=None)
    assert proc.returncode == 1
    assert one_line(proc.stderr).startswith("bptraf: stdout is closed")
    assert not lab.xdp_attached()


def test_too_few_open_files_for_two_interfaces_is_one_line(lab):
    other = VethLab.create()
    try:
        proc = bptraf(lab.host, other.host, "--json", "-c", "1", shell="ulimit -n 16")
        assert proc.returncode == 1
        assert "`ulimit -n` is 16" in one_line(proc.stderr)
        assert not lab.xdp_attached() and not other.xdp_attached()
    finally:
        other.destroy()


def test_too_little_address_space_for_the_compiler_is_one_line(lab):
    proc = bptraf(lab.host, "--json", "-c", "1", shell="ulimit -v 200000")
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("bptraf: the program loader") and "`ulimit -v` is 200000 KiB" in line
    assert not lab.xdp_attached()


# -- messages that say what is true ---------------------------------------------------------------
@pytest.fixture
def memory_cgroup():
    """A memory cgroup this test owns, limited by the caller: yields a function that sets the limit
    and returns the shell line that moves a process into it."""
    mine = limits.memory_cgroup()
    assert mine is not None, "no memory cgroup"
    v1 = (mine / "memory.limit_in_bytes").exists()
    path = (mine if v1 else limits.CGROUP) / f"bptraf-test-{os.getpid()}"
    if not v1:
        (limits.CGROUP / "cgroup.subtree_control").write_text("+memory")
    path.mkdir()

    def limit(mib: int) -> str:
        if v1:
            (path / "memory.limit_in_bytes").write_text(str(mib << 20))
            if (path / "memory.memsw.limit_in_bytes").exists():
                (path / "memory.memsw.limit_in_bytes").write_text(str(mib << 20))
        else:
            (path / "memory.max").write_text(str(mib << 20))
            (path / "memory.swap.max").write_text("0")
        return f"echo $$ > {path}/cgroup.procs"

    try:
        yield limit
    finally:
        assert wait_for(lambda: not (path / "cgroup.procs").read_text().strip(), timeout=10)
        path.rmdir()


def test_a_loader_killed_by_the_memory_cgroup_says_so(lab, memory_cgroup):
    proc = bptraf(lab.host, "--json", "-c", "1", shell=memory_cgroup(60))
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("bptraf: the program loader was killed (SIGKILL) by the out-of-memory killer: memory cgroup")
    assert "is limited to 60 MiB" in line
    assert not lab.xdp_attached()


def test_a_flow_table_the_kernel_cannot_allocate_is_not_a_compile_error(lab, memory_cgroup):
    proc = bptraf(lab.host, "--json", "-c", "1", "--flows", "--flows-max", "1048576", shell=memory_cgroup(120))
    assert proc.returncode == 1
    # IPv4 and IPv6 flows have a table each: whichever the kernel refused first is named.
    assert re.fullmatch(
        r"bptraf: the kernel could not create the map bptraf_flows[46]: Cannot allocate memory "
        r"\(a flow table of 1048576 entries: try a smaller --flows-max\)",
        one_line(proc.stderr),
    )
    assert not lab.xdp_attached()


def _running(lab: VethLab, *args: str) -> Bptraf:
    bp = Bptraf(lab.host, "--json", "-i", "0.1", *args)
    bp.wait_ready()
    assert lab.xdp_attached()
    return bp


def test_a_renamed_interface_is_named_as_renamed(lab):
    with _running(lab) as bp:
        sh("ip", "link", "set", lab.host, "down")
        sh("ip", "link", "set", lab.host, "name", lab.host + "x")
        lab.host += "x"  # so the lab still cleans up
        code = wait_exit(bp.proc, 10)
        assert not lab.xdp_attached()
        err = bp.proc.stderr.read()
    assert code == 1
    assert one_line(err).startswith(f"bptraf: {lab.host[:-1]} was renamed {lab.host} (ifindex ")


def test_an_interface_moved_to_another_netns_is_not_said_to_be_detached(lab):
    with _running(lab) as bp:
        sh("ip", "link", "set", lab.host, "netns", lab.ns)
        code = wait_exit(bp.proc, 10)
        shown = lab.in_ns("ip", "-d", "link", "show", "dev", lab.host).stdout
        err = bp.proc.stderr.read()
    assert code == 1 and "prog/xdp" not in shown
    assert one_line(err).endswith(
        "was moved to another network namespace; bptraf's program went with it, and is detached as bptraf exits"
    )


def test_a_deleted_interface_is_said_to_be_deleted(lab):
    with _running(lab) as bp:
        sh("ip", "link", "del", lab.host)
        code = wait_exit(bp.proc, 10)
        err = bp.proc.stderr.read()
    assert code == 1
    assert one_line(err).endswith("was deleted; the kernel detached bptraf's program")


def test_the_drop_warning_only_comes_when_bptraf_runs(lab):
    with _running(lab):
        proc = bptraf(lab.host, "-d", "--json", "-c", "1")
        assert proc.returncode == 1
        assert "already has an XDP program" in one_line(proc.stderr)


# -- attach mode ---------------------------------------------------------------------------------
@pytest.fixture
def jumbo(lab):
    """The lab with MTU 9000 on both ends: too large for native XDP on veth (ERANGE)."""
    lab.in_ns("ip", "link", "set", lab.peer, "mtu", "9000")
    sh("ip", "link", "set", lab.host, "mtu", "9000")
    return lab


def test_auto_mode_falls_back_to_generic_when_native_is_refused(jumbo):
    proc = bptraf(jumbo.host, "--json", "-c", "1", "-i", "0.1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["mode"] == "generic"
    assert one_line(proc.stderr).startswith(f"bptraf: {jumbo.host}: native XDP refused (Numerical result out of range")
    assert not jumbo.xdp_attached()


def test_native_mode_refused_names_the_cause_and_the_flag(jumbo):
    proc = bptraf(jumbo.host, "--json", "-c", "1", "--mode", "native")
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert "MTU" in line and line.endswith("--mode generic works on any interface")
    assert not jumbo.xdp_attached()


# -- the drop benchmark's verdict ------------------------------------------------------------------
def _frames(n: int) -> list[bytes]:
    from frames import eth, ipv4, udp

    return [eth(0x0800, ipv4(17, udp(4000, 9, 18))) for _ in range(n)]


@pytest.mark.parametrize("form", ["--json", "--plain"])
def test_the_drop_benchmark_ends_with_a_verdict(lab, form):
    frames = _frames(200)
    size = len(frames[0])
    with Bptraf(lab.host, "-d", form, "-i", "0.2") as bp:
        bp.readline()
        lab.send(frames)
        deadline = time.monotonic() + 10
        got = 0
        while got < len(frames) and time.monotonic() < deadline:
            line = bp.readline()
            if form == "--json":
                got += json.loads(line)["counters"]["all"]["packets"]
            elif line.startswith("       all:") and not line.startswith("       all: 0 pps"):
                got = len(frames)  # the plain text shows rates only: the summary checks the count
        code, out, err = bp.stop()
    assert code == 0, err
    assert not lab.xdp_attached()
    last = out.splitlines()[-1]
    if form == "--json":
        record = json.loads(last)
        assert "counters" not in record and record["interface"] == lab.host
        s = record["summary"]
        assert (s["packets"], s["bytes"], s["mean_frame_bytes"]) == (200, 200 * size, size)
        assert s["link_speed_bps"] == 10_000_000_000  # what veth reports
        assert s["line_rate_pps"] == pytest.approx(10e9 / ((max(size, 60) + 24) * 8), rel=1e-6)
        assert s["line_rate_share"] == pytest.approx(s["pps_median"] / s["line_rate_pps"], abs=1e-6)
        assert s["pps_min"] <= s["pps_median"] <= s["pps_p99"] <= s["pps_max"]
    else:
        assert last.startswith(f"summary {lab.host}: ") and f"of 10 GbE at {max(size, 60) + 4} B" in last


def test_plain_output_for_logs_has_times_and_sizes(lab):
    proc = bptraf(lab.host, "--plain", "-t", "--sizes", "-c", "2", "-i", "0.1")
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = proc.stdout.splitlines()
    assert lines[0] == f"# {lab.host}: XDP native mode, pass"
    stamps = [line for line in lines if line.startswith("# 20")]
    assert len(stamps) == 2 and all(len(s) == len("# 2026-11-18T11:06:40.000Z") and s.endswith("Z") for s in stamps)
    assert sum(line.startswith("     sizes: 0-64 ") for line in lines) == 2
    assert not lab.xdp_attached()


def test_pipes_still_end_quietly(lab):
    proc = subprocess.run(
        f"{sys.executable} -m bptraf {lab.host} --json -i 0.1 | head -2",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.count("\n") == 2 and proc.stderr == ""
    assert not lab.xdp_attached()
