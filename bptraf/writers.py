"""Line writers for logs and pipes: the classic plain text, and JSON lines."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TextIO

from bptraf.model import Attachment
from bptraf.sampler import Sample
from bptraf.units import rate


class PlainWriter:
    """The classic bptraf block: `       all: 12.88 Kpps 154.9 Mbps`, one block per interval."""

    def __init__(self, out: TextIO, attachments: tuple[Attachment, ...]) -> None:
        self.out = out
        self.attachments = attachments

    def start(self) -> None:
        for a in self.attachments:
            self.out.write(f"# {a.iface}: XDP {a.mode} mode, {a.action}\n")
        self.out.flush()

    def __call__(self, sample: Sample) -> None:
        lines = []
        several = len(self.attachments) > 1
        for a, r in zip(self.attachments, sample.rates):
            if several:
                lines.append(f"{a.iface}:")
            for c in a.counters:
                if c.index == 0 or r.packets[c.index]:
                    lines.append(f"{c.label:>10}: {rate(r.pps[c.index], 'pps')} {rate(r.bps[c.index], 'bps')}")
        lines.append("")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


class JsonWriter:
    """One JSON object per interface per interval, raw numbers only."""

    def __init__(self, out: TextIO, attachments: tuple[Attachment, ...]) -> None:
        self.out = out
        self.attachments = attachments

    def start(self) -> None:
        pass

    def __call__(self, sample: Sample) -> None:
        when = datetime.fromtimestamp(sample.time, timezone.utc).isoformat(timespec="milliseconds")
        when = when.replace("+00:00", "Z")
        for a, r in zip(self.attachments, sample.rates):
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
            self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.out.flush()
