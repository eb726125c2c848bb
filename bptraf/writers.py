"""Line writers for logs and pipes: the classic plain text, and JSON lines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TextIO

from bptraf.flows import FlowRate, top
from bptraf.model import Attachment
from bptraf.rates import Rates
from bptraf.sampler import Sample
from bptraf.source import Feature
from bptraf.summary import Verdict
from bptraf.units import rate, si

WIDTH = 100  # plain lines fit in this many columns
FLOW_HEADER = f"{'PROTO':>6} {'pps':>10} {'bps':>10} {'PKTS':>7} {'BYTES':>8}  SRC > DST"
# While TX is counted: received (<=, from SRC) and sent (=>, back to SRC) rates; PKTS and BYTES both ways.
FLOW_HEADER_TX = (
    f"{'PROTO':>6} {'<= pps':>10} {'<= bps':>10} {'=> pps':>10} {'=> bps':>10} {'PKTS':>7} {'BYTES':>8}  SRC > DST"
)


def endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def flow_lines(r: FlowRate, tx: bool = False) -> list[str]:
    """A stable column form: the current rates (received, then sent when `tx`), totals since first seen,
    then who to whom. A pair of long (IPv6) endpoints goes on two lines, so nothing passes WIDTH columns."""
    f = r.flow
    sent = f"{rate(r.tx_pps, 'pps'):>10} {rate(r.tx_bps, 'bps'):>10} " if tx else ""
    head = (
        f"{f.proto_name:>6} {rate(r.pps, 'pps'):>10} {rate(r.bps, 'bps'):>10} {sent}"
        f"{si(f.packets + f.tx_packets):>7} {rate(f.bytes + f.tx_bytes, 'B'):>8}  "
    )
    src, dst = endpoint(f.src, f.sport), endpoint(f.dst, f.dport)
    if len(head) + len(src) + 3 + len(dst) <= WIDTH:
        return [f"{head}{src} > {dst}"]
    return [f"{head}{src}", f"{'':>{len(head)}}> {dst}"]


def iso_time(when: float) -> str:
    """`2026-11-18T11:06:40.000Z`: UTC, milliseconds."""
    return datetime.fromtimestamp(when, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tx_lines(a: Attachment, r: Rates) -> list[str]:
    """What was sent, after the received block: `       all TX: 1.20 Kpps 9.8 Mbps`, by the RX rule
    (`all` always, other classes when they had packets); none while TX is not counted. The label
    keeps its column, and ` TX:` keeps a grep for `all:` to received lines."""
    if not r.tx_packets:
        return []
    return [
        f"{c.label:>10} TX: {rate(r.tx_pps[c.index], 'pps')} {rate(r.tx_bps[c.index], 'bps')}"
        for c in a.counters
        if c.index == 0 or r.tx_packets[c.index]
    ]


def counter_objects(a: Attachment, packets, nbytes, pps, bps) -> dict:
    """`{name: {packets, bytes, pps, bps}}` for one direction: JSON's `counters` and `tx` alike."""
    return {
        c.name: {
            "packets": packets[c.index],
            "bytes": nbytes[c.index],
            "pps": round(pps[c.index], 3),
            "bps": round(bps[c.index], 3),
        }
        for c in a.counters
    }


def tx_record(a: Attachment, r: Rates, features: Feature) -> dict:
    """JSON's `tx` object, shaped like `counters`, and `tx_sizes` with sizes on; {} while TX is not counted."""
    if not r.tx_packets:
        return {}
    out: dict = {"tx": counter_objects(a, r.tx_packets, r.tx_bytes, r.tx_pps, r.tx_bps)}
    if Feature.SIZES in features:
        out["tx_sizes"] = dict(zip(a.sizes, r.tx_sizes))
    return out


class _Writer:
    def __init__(self, out: TextIO, attachments: tuple[Attachment, ...], top_n: int = 10) -> None:
        self.out = out
        self.attachments = attachments
        self.top_n = top_n

    def start(self) -> None:
        """Anything written once, before the first interval."""

    def summary(self, verdicts: Sequence[Verdict], when: float) -> None:
        """The drop benchmark's last word, one per interface."""


class PlainWriter(_Writer):
    """The classic bptraf block: `       all: 12.88 Kpps 154.9 Mbps`, one block per interval."""

    def __init__(
        self, out: TextIO, attachments: tuple[Attachment, ...], top_n: int = 10, timestamps: bool = False
    ) -> None:
        super().__init__(out, attachments, top_n)
        self.timestamps = timestamps

    def start(self) -> None:
        for a in self.attachments:
            self.out.write(f"# {a.iface}: XDP {a.mode} mode, {a.action}\n")
        self.out.flush()

    def __call__(self, sample: Sample) -> None:
        lines = [f"# {iso_time(sample.time)}"] if self.timestamps else []
        several = len(self.attachments) > 1
        for i, (a, r) in enumerate(zip(self.attachments, sample.rates)):
            if several:
                lines.append(f"{a.iface}:")
            lines.extend(counter_lines(a, r))
            if Feature.SIZES in sample.features and a.sizes:
                lines.append(sizes_line(a, r))
            lines.extend(tx_lines(a, r))
            if sample.flows is not None:
                tx = bool(r.tx_packets)
                lines.append(FLOW_HEADER_TX if tx else FLOW_HEADER)
                for fr in top(sample.flows[i], self.top_n):
                    lines.extend(flow_lines(fr, tx))
        lines.append("")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()

    def summary(self, verdicts: Sequence[Verdict], when: float) -> None:
        self.out.write("".join(f"{v.line()}\n" for v in verdicts))
        self.out.flush()


def counter_lines(a: Attachment, r: Rates) -> list[str]:
    """`all` always, then every class that saw packets in the interval."""
    return [
        f"{c.label:>10}: {rate(r.pps[c.index], 'pps')} {rate(r.bps[c.index], 'bps')}"
        for c in a.counters
        if c.index == 0 or r.packets[c.index]
    ]


def sizes_line(a: Attachment, r: Rates) -> str:
    """`     sizes: 0-64 100%  65-127 0%  ...`: each bucket's share of the interval's packets."""
    total = sum(r.sizes)
    return f"{'sizes':>10}: " + "  ".join(
        f"{label} {n / total if total else 0:.0%}" for label, n in zip(a.sizes, r.sizes)
    )


class JsonWriter(_Writer):
    """One JSON object per interface per interval, raw numbers only."""

    def __call__(self, sample: Sample) -> None:
        when = iso_time(sample.time)
        for i, (a, r) in enumerate(zip(self.attachments, sample.rates)):
            record = interval_record(when, a, r)
            if Feature.SIZES in sample.features:
                record["sizes"] = dict(zip(a.sizes, r.sizes))
            record.update(tx_record(a, r, sample.features))
            if sample.flows is not None:
                record["flows"] = [flow_record(fr, bool(r.tx_packets)) for fr in top(sample.flows[i], self.top_n)]
                # The flow table is shared by every interface: the same figures on each record.
                record["flows_evicted"] = sample.flows_evicted
                record["flows_untracked_packets"] = sample.flows_untracked
            self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.out.flush()

    def summary(self, verdicts: Sequence[Verdict], when: float) -> None:
        # No `counters` key: a reader of intervals (the replay) skips this record.
        for a, v in zip(self.attachments, verdicts):
            record = {"time": iso_time(when), "interface": a.iface, "mode": a.mode, "action": a.action}
            record["summary"] = v.record()
            self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.out.flush()


def interval_record(when: str, a: Attachment, r: Rates) -> dict:
    """One interface's interval: where, how long, and every counter's deltas and rates."""
    return {
        "time": when,
        "interface": a.iface,
        "interval": round(r.period_s, 6),
        "mode": a.mode,
        "action": a.action,
        "counters": counter_objects(a, r.packets, r.bytes, r.pps, r.bps),
    }


def flow_record(r: FlowRate, tx: bool = False) -> dict:
    """One conversation: what was received from src in the interval, its rates and totals; with `tx`
    (TX counted), what was sent back to src too, in the same shape under tx_ names."""
    f = r.flow
    out = {
        "proto": f.proto_name,
        "src": f.src,
        "sport": f.sport,
        "dst": f.dst,
        "dport": f.dport,
        "packets": r.packets,
        "bytes": r.bytes,
        "pps": round(r.pps, 3),
        "bps": round(r.bps, 3),
        "total_packets": f.packets,
        "total_bytes": f.bytes,
    }
    if tx:
        out.update(
            tx_packets=r.tx_packets,
            tx_bytes=r.tx_bytes,
            tx_pps=round(r.tx_pps, 3),
            tx_bps=round(r.tx_bps, 3),
            tx_total_packets=f.tx_packets,
            tx_total_bytes=f.tx_bytes,
        )
    return out
