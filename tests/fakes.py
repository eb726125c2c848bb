"""A scripted counter source and clocks, so everything after Source.read() is tested without root or bcc."""

from __future__ import annotations

from bptraf.counters import for_action, size_labels
from bptraf.flows import Flow
from bptraf.model import Attachment, Snapshot
from bptraf.sampler import Wait
from bptraf.source import Feature, available


def attachment(iface: str = "eth0", action: str = "pass", mode: str = "native") -> Attachment:
    return Attachment(iface, 2, mode, action, for_action(action), sizes=size_labels() if action == "pass" else ())


class FakeSource:
    """Replays snapshots built from cumulative {counter: (packets, bytes)} totals, one per read."""

    def __init__(self, attachments: tuple[Attachment, ...], script: list[tuple[int, list[dict]]], ncpus: int = 2):
        self.attachments = attachments
        self.script = list(script)  # [(ts_ns, [totals per attachment])]
        self.ncpus = ncpus
        self.reads = 0
        self.missing: tuple[str, ...] = ()
        self.available = available(attachments[0].action) if attachments else Feature.NONE
        self.features = Feature.NONE
        self.closed = False
        self.flow_script: list[list[Flow]] = []  # one list of cumulative flows per read_flows()
        self.flow_reads = 0

    def _snap(self, a: Attachment, ts: int, totals: dict) -> Snapshot:
        pk = tuple(totals.get(c.name, (0, 0))[0] for c in a.counters)
        by = tuple(totals.get(c.name, (0, 0))[1] for c in a.counters)
        # Spread `all` over the CPUs, the first one taking the remainder, as RSS rarely balances.
        cpu_p = tuple(pk[0] // self.ncpus + (pk[0] % self.ncpus if i == 0 else 0) for i in range(self.ncpus))
        cpu_b = tuple(by[0] // self.ncpus + (by[0] % self.ncpus if i == 0 else 0) for i in range(self.ncpus))
        sizes = tuple(totals.get("sizes", (0,) * len(a.sizes)))
        # What the host sent, under "tx" as {counter: (packets, bytes)}, and "tx_sizes"; absent: not counted.
        tx = totals.get("tx")
        if tx is None:
            return Snapshot(ts, pk, by, cpu_p, cpu_b, sizes)
        tx_pk = tuple(tx.get(c.name, (0, 0))[0] for c in a.counters)
        tx_by = tuple(tx.get(c.name, (0, 0))[1] for c in a.counters)
        tx_sizes = tuple(totals.get("tx_sizes", (0,) * len(a.sizes)))
        return Snapshot(ts, pk, by, cpu_p, cpu_b, sizes, tx_pk, tx_by, tx_sizes)

    def zero(self) -> tuple[Snapshot, ...]:
        return tuple(Snapshot.zero(0, len(a.counters), self.ncpus, len(a.sizes)) for a in self.attachments)

    def set_features(self, features: Feature) -> None:
        self.features = features

    def close(self) -> None:
        self.closed = True

    def read_flows(self) -> list[Flow]:
        if Feature.FLOWS not in self.features:
            return []
        found = self.flow_script[min(self.flow_reads, len(self.flow_script) - 1)] if self.flow_script else []
        self.flow_reads += 1
        return found

    def read(self) -> tuple[Snapshot, ...]:
        ts, per = self.script[min(self.reads, len(self.script) - 1)]
        self.reads += 1
        return tuple(self._snap(a, ts, t) for a, t in zip(self.attachments, per))

    def gone(self) -> tuple[str, ...]:
        return tuple(f"{name} disappeared" for name in self.missing)


class FakeClock:
    """A monotonic ns clock that only moves when wait() sleeps (plus any scripted jitter)."""

    def __init__(self) -> None:
        self.now = 0
        self.waits: list[float] = []

    def mono(self) -> int:
        return self.now

    def wait(self, seconds: float) -> Wait:
        self.waits.append(seconds)
        self.now += int(seconds * 1e9)
        return Wait.TIMEOUT
