"""ReplaySource: the JSON lines an earlier `--json` run wrote, served back through the Source protocol.

Each JSON record is one interface's interval (its packets and bytes, and the interval's length).
The source sums them back into totals since the start, stamped with the summed intervals, so the
sampler's usual arithmetic gives the logged rates back exactly. Records with a top-level `summary`
(the drop benchmark's verdict) end no interval and are skipped. No root, no BPF.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bptraf import counters as counter_list
from bptraf.errors import BptrafError
from bptraf.flows import PROTOCOLS, Flow
from bptraf.model import Attachment, Snapshot
from bptraf.source import Feature

_PROTO_NUMBERS = {name: number for number, name in PROTOCOLS.items()}


@dataclass(frozen=True)
class Step:
    """One interval of every interface: when it ended, how long it was, each interface's record."""

    time: float
    period_s: float
    records: tuple[dict, ...]


def _fail(where: str, line: int, why: str) -> BptrafError:
    return BptrafError(f"{where}:{line}: {why}")


def _record(text: str, where: str, line: int) -> dict | None:
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(where, line, f"not a JSON line ({exc.msg}); truncated, or not written by bptraf --json") from None
    if not isinstance(record, dict):
        raise _fail(where, line, "not a bptraf --json record")
    if "summary" in record and "counters" not in record:
        return None
    try:
        datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00"))
        float(record["interval"])
        str(record["interface"])
        for c in record["counters"].values():
            int(c["packets"]), int(c["bytes"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise _fail(where, line, "not a bptraf --json record (time, interface, interval, counters)") from None
    return record


def load(lines: Iterable[str], where: str) -> list[Step]:
    """Parse every line up front, so a bad one is named before the screen opens."""
    steps: list[Step] = []
    pending: list[dict] = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        record = _record(text, where, number)
        if record is None:
            continue
        if pending and (
            record["time"] != pending[0]["time"] or record["interface"] in {r["interface"] for r in pending}
        ):
            steps.append(_step(pending))
            pending = []
        pending.append(record)
    if pending:
        steps.append(_step(pending))
    if not steps:
        raise BptrafError(f"{where}: no bptraf --json records to replay")
    first = [r["interface"] for r in steps[0].records]
    for step in steps:
        if [r["interface"] for r in step.records] != first:
            raise BptrafError(f"{where}: the interfaces change part-way; replay one run's log at a time")
    return steps


def _step(records: list[dict]) -> Step:
    when = datetime.fromisoformat(records[0]["time"].replace("Z", "+00:00")).timestamp()
    return Step(when, float(records[0]["interval"]), tuple(records))


def _attachment(record: dict, slot: int) -> Attachment:
    known = {c.name: c for c in counter_list.counting()}
    names = list(record["counters"])
    counters = tuple(
        counter_list.Counter(i, n, known[n].group if n in known else "L3", known[n].label if n in known else n)
        for i, n in enumerate(names)
    )
    sizes = tuple(record.get("sizes", {}))
    # The mode says where the numbers come from: a log, not a program attached now.
    return Attachment(record["interface"], slot, "replay", record.get("action", "pass"), counters, sizes=sizes)


class ReplaySource:
    """Steps through a loaded log; `read()` past the end repeats the last totals (no more traffic)."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.attachments = tuple(_attachment(r, i) for i, r in enumerate(steps[0].records))
        self.ncpus = 0  # logs carry no per-CPU counts
        has = {k for s in steps for r in s.records for k in r}
        self.features = (Feature.SIZES if "sizes" in has else Feature.NONE) | (
            Feature.FLOWS if "flows" in has else Feature.NONE
        )
        self.available = self.features
        self.tx = "tx" in has
        self.pos = 0  # steps read so far
        self._ts = 0
        self._totals = [self._empty(a) for a in self.attachments]
        self._flows: dict[tuple, Flow] = {}
        self._flows_ts = -1

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.steps)

    def step_s(self) -> float:
        """The next interval's length, as logged: the replay's pace at 1x."""
        return self.steps[min(self.pos, len(self.steps) - 1)].period_s

    def wall(self) -> float:
        """When the last read interval ended, by the log's clock."""
        return self.steps[max(self.pos - 1, 0)].time

    def when(self) -> str:
        stamp = datetime.fromtimestamp(self.wall()).strftime("%Y-%m-%d %H:%M:%S")
        return f"{stamp} · {self.pos}/{len(self.steps)}"

    def _empty(self, a: Attachment) -> dict:
        n = len(a.counters)
        return {"p": [0] * n, "b": [0] * n, "tp": [0] * n, "tb": [0] * n, "s": [0] * len(a.sizes)}

    def zero(self) -> tuple[Snapshot, ...]:
        return tuple(self._snap(a, t, 0) for a, t in zip(self.attachments, self._totals))

    def _snap(self, a: Attachment, t: dict, ts: int) -> Snapshot:
        tx = (tuple(t["tp"]), tuple(t["tb"]), ()) if self.tx else ((), (), ())
        return Snapshot(ts, tuple(t["p"]), tuple(t["b"]), (), (), tuple(t["s"]), *tx)

    def read(self) -> tuple[Snapshot, ...]:
        if not self.exhausted:
            step = self.steps[self.pos]
            self.pos += 1
            self._ts += int(step.period_s * 1e9)
            for a, t, r in zip(self.attachments, self._totals, step.records):
                for c in a.counters:
                    got = r["counters"].get(c.name, {})
                    t["p"][c.index] += int(got.get("packets", 0))
                    t["b"][c.index] += int(got.get("bytes", 0))
                    sent = r.get("tx", {}).get(c.name, {})
                    t["tp"][c.index] += int(sent.get("packets", 0))
                    t["tb"][c.index] += int(sent.get("bytes", 0))
                for i, label in enumerate(a.sizes):
                    t["s"][i] += int(r.get("sizes", {}).get(label, 0))
        return tuple(self._snap(a, t, self._ts) for a, t in zip(self.attachments, self._totals))

    def _add_flows(self, a: Attachment, records: list | None, ts: int) -> None:
        for f in records or ():
            proto = _PROTO_NUMBERS.get(f.get("proto"), 0)
            # The sent side (tx_*) came with flows both ways: a log from before, or from --no-tx, has none.
            flow = Flow(a.ifindex, proto, f["src"], int(f["sport"]), f["dst"], int(f["dport"]),
                        int(f.get("total_packets", f["packets"])), int(f.get("total_bytes", f["bytes"])), 0, ts, 0,
                        int(f.get("tx_total_packets", f.get("tx_packets", 0))),
                        int(f.get("tx_total_bytes", f.get("tx_bytes", 0))))  # fmt: skip
            self._flows[flow.key] = flow

    def read_flows(self) -> list[Flow]:
        """The flows the coming interval's records list, with their totals (the sampler reads flows
        before the counters, so this looks at the step read() is about to take)."""
        if not self.exhausted:
            step = self.steps[self.pos]
            ts = self._ts + int(step.period_s * 1e9)
            for a, r in zip(self.attachments, step.records):
                self._add_flows(a, r.get("flows"), ts)
            self._flows_ts = ts
        return [f for f in self._flows.values() if f.last_ns == self._flows_ts]

    def set_features(self, features: Feature) -> None:
        raise BptrafError("a replay shows what the log holds; it cannot switch features")

    def gone(self) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        pass


def open_log(path: str, stdin) -> ReplaySource:
    """`path`, or `-` for stdin (read to its end before the screen opens)."""
    where = "stdin" if path == "-" else path
    try:
        if path == "-":
            return ReplaySource(load(stdin, where))
        with open(path, encoding="utf-8", errors="replace") as f:
            return ReplaySource(load(f, where))
    except OSError as exc:
        raise BptrafError(f"cannot read {where}: {exc.strerror or exc}") from None
