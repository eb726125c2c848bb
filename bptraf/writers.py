"""Line writers for logs and pipes: the classic plain text, and JSON lines."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TextIO

from bptraf.flows import FlowRate, top
from bptraf.model import Attachment
from bptraf.sampler import Sample
from bptraf.source import Feature
from bptraf.units import rate

FLOW_HEADER = f"{'PROTO':>6} {'SRC':<46} {'DST':<46} {'PKTS':>10} {'BYTES':>12} {'pps':>10} {'bps':>11}"


def endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def flow_line(r: FlowRate) -> str:
    """A stable column form: totals since first seen, then the current rates."""
    f = r.flow
    return (
        f"{f.proto_name:>6} {endpoint(f.src, f.sport):<46} {endpoint(f.dst, f.dport):<46} "
        f"{f.packets:>10} {f.bytes:>12} {rate(r.pps, 'pps'):>10} {rate(r.bps, 'bps'):>11}"
    )


class _Writer:
    def __init__(self, out: TextIO, attachments: tuple[Attachment, ...], top_n: int = 10) -> None:
        self.out = out
        self.attachments = attachments
        self.top_n = top_n

    def start(self) -> None:
        """Anything written once, before the first interval."""


class PlainWriter(_Writer):
    """The classic bptraf block: `       all: 12.88 Kpps 154.9 Mbps`, one block per interval."""

    def start(self) -> None:
        for a in self.attachments:
            self.out.write(f"# {a.iface}: XDP {a.mode} mode, {a.action}\n")
        self.out.flush()

    def __call__(self, sample: Sample) -> None:
        lines = []
        several = len(self.attachments) > 1
        for i, (a, r) in enumerate(zip(self.attachments, sample.rates)):
            if several:
                lines.append(f"{a.iface}:")
            for c in a.counters:
                if c.index == 0 or r.packets[c.index]:
                    lines.append(f"{c.label:>10}: {rate(r.pps[c.index], 'pps')} {rate(r.bps[c.index], 'bps')}")
            if sample.flows is not None:
                lines.append(FLOW_HEADER)
                lines.extend(flow_line(fr) for fr in top(sample.flows[i], self.top_n))
        lines.append("")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


class JsonWriter(_Writer):
    """One JSON object per interface per interval, raw numbers only."""

    def __call__(self, sample: Sample) -> None:
        when = datetime.fromtimestamp(sample.time, timezone.utc).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
        for i, (a, r) in enumerate(zip(self.attachments, sample.rates)):
            record = {
                "time": when,
                "interface": a.iface,
                "interval": round(r.period_s, 6),
                "mode": a.mode,
                "action": a.action,
                "counters": {
                    c.name: {
                        "packets": r.packets[c.index],
                        "bytes": r.bytes[c.index],
                        "pps": round(r.pps[c.index], 3),
                        "bps": round(r.bps[c.index], 3),
                    }
                    for c in a.counters
                },
            }
            if Feature.SIZES in sample.features:
                record["sizes"] = dict(zip(a.sizes, r.sizes))
            if sample.flows is not None:
                record["flows"] = [_flow_record(fr) for fr in top(sample.flows[i], self.top_n)]
                # The flow table is shared by every interface: the same figures on each record.
                record["flows_evicted"] = sample.flows_evicted
                record["flows_untracked_packets"] = sample.flows_untracked
            self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.out.flush()


def _flow_record(r: FlowRate) -> dict:
    f = r.flow
    return {
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
