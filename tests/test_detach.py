"""Detach checks that can fail: cleanup is asserted inside a process that is still alive.

Once a process exits, the kernel drops its links and programs whatever bptraf did, so a check made
after exit cannot catch a missing close(). Here BpfSource and cli.main run in the test process
itself: anything close() forgets (the link, a program or map fd) is still held by this process
when the check runs, so it shows on the interface, in /proc/self/fdinfo and in the kernel's id lists.
"""

from __future__ import annotations

import io
import json
import signal
import threading

import pytest
from bpfview import bpf_fds, held, kernel_ids, xdp_prog_id
from frames import KINDS
from runner import wait_for

from bptraf import cli
from bptraf.bpf import BpfSource
from bptraf.source import Feature

pytestmark = pytest.mark.bpf

MODES = {
    "pass": ("pass", Feature.NONE),
    "drop": ("drop", Feature.NONE),
    "flows": ("pass", Feature.FLOWS),
    "sizes-flows": ("pass", Feature.SIZES | Feature.FLOWS),
}
ARGS = {"pass": [], "drop": ["-d"], "flows": ["--flows"], "sizes-flows": ["--sizes", "--flows"],
        "exporter": ["--listen", "127.0.0.1:0"]}  # fmt: skip


def opened_by(before: dict) -> dict[str, set[int]]:
    """The program, map and link ids whose fds this process opened since `before`."""
    return held({fd: info for fd, info in bpf_fds().items() if fd not in before})


def assert_attached(iface: str, ids: dict[str, set[int]]) -> None:
    prog = xdp_prog_id(iface)
    assert prog in ids["prog"], f"{iface} runs program {prog}, not one of ours {ids['prog']}"
    assert ids["link"], "no BPF link held"
    assert ids["link"] <= kernel_ids("link")


def assert_released(iface: str, ids: dict[str, set[int]], before: dict) -> None:
    """Nothing of ours left: not on the interface, no fd in this process, no object in the kernel."""
    assert xdp_prog_id(iface) is None, "the program is still attached"
    left = {fd: info for fd, info in bpf_fds().items() if fd not in before}
    assert left == {}, f"BPF fds still open after close(): {left}"
    # Links and programs are freed a little after their last fd closes (RCU), so poll briefly.
    for kind in ("link", "prog", "map"):
        assert wait_for(lambda k=kind: not ids[k] & kernel_ids(k), timeout=10), f"{kind} ids still in the kernel"


@pytest.mark.parametrize("mode", MODES)
def test_close_releases_everything_while_the_process_lives(lab, mode):
    action, features = MODES[mode]
    before = bpf_fds()
    src = BpfSource([lab.host], action=action, features=features)
    try:
        src.open()
        ids = opened_by(before)
        assert_attached(lab.host, ids)
        assert len(ids["prog"]) >= 1 and len(ids["map"]) >= 1
        frame = KINDS[1].frame
        lab.send([frame] * 3)
        assert wait_for(lambda: src.read()[0].packets[0] == 3), "the attached program did not count"
    finally:
        src.close()
    assert_released(lab.host, ids, before)
    src.close()  # a second close is harmless
    assert xdp_prog_id(lab.host) is None


@pytest.mark.parametrize("mode", ARGS)
def test_cli_run_releases_everything_before_returning(lab, mode, capsys):
    before = bpf_fds()
    seen: dict[str, set[int]] = {}

    class Probe(io.StringIO):
        """stdout that records, at the first interval, what the running bptraf holds."""

        def write(self, text: str) -> int:
            if not seen and text.startswith("{"):
                seen.update(opened_by(before))
                seen["attached"] = {xdp_prog_id(lab.host)}
            return super().write(text)

    out = Probe()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", out)
        code = cli.main([lab.host, "--json", "-i", "0.1", "-c", "2", *ARGS[mode]])
    assert code == 0, capsys.readouterr().err
    assert len(out.getvalue().splitlines()) == 2
    assert seen["attached"] <= seen["prog"]
    assert seen["link"], "attached without a BPF link"
    assert_released(lab.host, seen, before)


@pytest.mark.parametrize("mode", ["pass", "flows"])
def test_stop_signal_releases_everything_before_returning(lab, mode, capsys):
    """SIGTERM to a running bptraf (no -c): its stop path alone must undo everything."""
    before = bpf_fds()
    started = threading.Event()
    seen: dict[str, set[int]] = {}
    main_thread = threading.get_ident()

    class Probe(io.StringIO):
        def write(self, text: str) -> int:
            if not started.is_set() and text.startswith("{"):
                seen.update(opened_by(before))
                started.set()
            return super().write(text)

    def stop() -> None:
        if started.wait(60):
            # Thread-directed, so it lands on the main thread, where bptraf waits for it.
            signal.pthread_kill(main_thread, signal.SIGTERM)

    killer = threading.Thread(target=stop, daemon=True)
    killer.start()
    out = Probe()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", out)
        code = cli.main([lab.host, "--json", "-i", "0.2", *ARGS[mode]])
    killer.join(5)
    assert code == 0, capsys.readouterr().err
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert records and all(r["interface"] == lab.host for r in records)
    assert_released(lab.host, seen, before)
