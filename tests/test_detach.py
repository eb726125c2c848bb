"""Detach checks that can fail: cleanup is asserted inside a process that is still alive.

Once a process exits, the kernel drops its links and programs whatever bptraf did, so a check made
after exit cannot catch a missing close(). Here BpfSource and cli.main run in the test process
itself: anything close() forgets (the link, a program or map fd) is still held by this process
when the check runs, so it shows on the interface, in /proc/self/fdinfo and in the kernel's id lists.
"""

from __future__ import annotations

import json
import os
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
    "tx": ("pass", Feature.TX),  # tcx links on egress beside the XDP link
    "tx-sizes-flows": ("pass", Feature.TX | Feature.SIZES | Feature.FLOWS),
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
        link_types = [i.get("link_type") for fd, i in bpf_fds().items() if fd not in before and "link_type" in i]
        assert src.features == features, "a feature asked for was not attached"
        assert ("tcx" in link_types) == (Feature.TX in features), link_types
        assert len(ids["prog"]) >= 1 and len(ids["map"]) >= 1
        frame = KINDS[1].frame
        lab.send([frame] * 3)
        assert wait_for(lambda: src.read()[0].packets[0] == 3), "the attached program did not count"
    finally:
        src.close()
    assert_released(lab.host, ids, before)
    src.close()  # a second close is harmless
    assert xdp_prog_id(lab.host) is None


class StdoutPipe:
    """sys.stdout on a real pipe (bptraf writes to the fd), read by a thread that records, at the
    first line, what the running bptraf holds."""

    def __init__(self, iface: str, before: dict) -> None:
        self.iface, self.before = iface, before
        self.seen: dict[str, set[int]] = {}
        self.started = threading.Event()
        self.lines: list[str] = []
        r, w = os.pipe()
        self.out = os.fdopen(w, "w")
        self._reader = threading.Thread(target=self._read, args=(r,), daemon=True)
        self._reader.start()

    def _read(self, fd: int) -> None:
        with os.fdopen(fd) as f:
            for line in f:
                if not self.started.is_set():
                    self.seen.update(opened_by(self.before))
                    self.seen["attached"] = {xdp_prog_id(self.iface)}
                    self.started.set()
                self.lines.append(line)

    def close(self) -> list[str]:
        self.out.close()
        self._reader.join(10)
        return self.lines


def run_main(args: list[str], pipe: StdoutPipe) -> int:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", pipe.out)
        try:
            return cli.main(args)
        finally:
            pipe.close()


@pytest.mark.parametrize("mode", ARGS)
def test_cli_run_releases_everything_before_returning(lab, mode, capsys):
    before = bpf_fds()
    pipe = StdoutPipe(lab.host, before)
    code = run_main([lab.host, "--json", "-i", "0.1", "-c", "2", *ARGS[mode]], pipe)
    assert code == 0, capsys.readouterr().err
    records = [json.loads(line) for line in pipe.lines]
    assert [r["interface"] for r in records if "counters" in r][:2] == [lab.host] * 2
    seen = pipe.seen
    assert seen["attached"] <= seen["prog"]
    assert seen["link"], "attached without a BPF link"
    assert_released(lab.host, seen, before)


@pytest.mark.parametrize("mode", ["pass", "flows"])
def test_stop_signal_releases_everything_before_returning(lab, mode, capsys):
    """SIGTERM to a running bptraf (no -c): its stop path alone must undo everything."""
    before = bpf_fds()
    pipe = StdoutPipe(lab.host, before)
    main_thread = threading.get_ident()

    def stop() -> None:
        if pipe.started.wait(60):
            # Thread-directed, so it lands on the main thread, where bptraf waits for it.
            signal.pthread_kill(main_thread, signal.SIGTERM)

    killer = threading.Thread(target=stop, daemon=True)
    killer.start()
    code = run_main([lab.host, "--json", "-i", "0.2", *ARGS[mode]], pipe)
    killer.join(5)
    assert code == 0, capsys.readouterr().err
    assert pipe.lines and all(json.loads(line)["interface"] == lab.host for line in pipe.lines)
    assert_released(lab.host, pipe.seen, before)
