"""The drop benchmark's verdict: the spread of the receive rate, and its share of the line rate.

Line rate counts what each frame costs on the wire beyond what XDP sees: the 4-byte FCS, the 8-byte
preamble and start delimiter and the 12-byte inter-frame gap, with frames padded to the 60-byte minimum
(64 B with the FCS). A 10 Gb/s link carries at most 10e9 / ((60 + 24) × 8) = 14.88 M 64-byte frames/s.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bptraf.model import Attachment
from bptraf.rates import per_second
from bptraf.sampler import Sample
from bptraf.units import rate

FCS, WIRE_OVERHEAD, MIN_FRAME = 4, 4 + 8 + 12, 60  # bytes: FCS; FCS + preamble/SFD + gap; without FCS


@dataclass(frozen=True)
class Verdict:
    """One interface's run: packets, the spread of pps over whole intervals, and the link's speed."""

    iface: str
    intervals: int
    seconds: float
    packets: int
    bytes: int
    pps_min: float
    pps_median: float
    pps_p99: float
    pps_max: float
    speed_mbps: int | None  # None when the link does not say

    @property
    def mean_frame(self) -> float:
        """Mean frame length as XDP sees it (no FCS); 0 with no packets."""
        return self.bytes / self.packets if self.packets else 0.0

    @property
    def line_rate_pps(self) -> float | None:
        """The most frames of this mean size the link carries per second."""
        if not self.speed_mbps or not self.packets:
            return None
        return per_second(self.speed_mbps * 1e6, (max(self.mean_frame, MIN_FRAME) + WIRE_OVERHEAD) * 8)

    @property
    def share(self) -> float | None:
        """The median rate as a share of the line rate."""
        line = self.line_rate_pps
        return self.pps_median / line if line else None

    def record(self) -> dict:
        """The JSON form: raw numbers, None where unknown."""
        line = self.line_rate_pps
        return {
            "intervals": self.intervals,
            "seconds": round(self.seconds, 6),
            "packets": self.packets,
            "bytes": self.bytes,
            "pps_min": round(self.pps_min, 3),
            "pps_median": round(self.pps_median, 3),
            "pps_p99": round(self.pps_p99, 3),
            "pps_max": round(self.pps_max, 3),
            "mean_frame_bytes": round(self.mean_frame, 3),
            "link_speed_bps": self.speed_mbps * 1_000_000 if self.speed_mbps else None,
            "line_rate_pps": None if line is None else round(line, 3),
            "line_rate_share": None if self.share is None else round(self.share, 6),
        }

    def line(self) -> str:
        """The plain form, one line."""
        if not self.packets:
            return f"summary {self.iface}: {self.intervals} intervals, no packets received"
        text = (
            f"summary {self.iface}: {self.intervals} intervals, pps min {rate(self.pps_min, 'pps')}, "
            f"median {rate(self.pps_median, 'pps')}, p99 {rate(self.pps_p99, 'pps')}, "
            f"max {rate(self.pps_max, 'pps')}, mean frame {self.mean_frame + FCS:.0f} B"
        )
        if self.share is not None:
            text += (
                f"; {rate(self.pps_median, 'pps')} = {self.share:.0%} of {link_name(self.speed_mbps)} "
                f"at {self.mean_frame + FCS:.0f} B"
            )
        return text


def link_name(mbps: int | None) -> str:
    if not mbps:
        return "an unknown link"
    return f"{mbps / 1000:g} GbE" if mbps >= 1000 else f"{mbps} Mb/s Ethernet"


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence (p in 0..100)."""
    if not sorted_values:
        return 0.0
    return sorted_values[max(math.ceil(p / 100 * len(sorted_values)) - 1, 0)]


class Tally:
    """Collects each interface's `all` rate per interval. An interval shorter than half the nominal
    one (the last, cut short by a stop) counts in the totals but not in the spread of rates."""

    def __init__(self, attachments: Sequence[Attachment], interval_s: float) -> None:
        self._attachments = tuple(attachments)
        self._min_period = interval_s / 2
        self._pps: list[list[float]] = [[] for _ in self._attachments]
        self._packets = [0] * len(self._attachments)
        self._bytes = [0] * len(self._attachments)
        self._seconds = [0.0] * len(self._attachments)

    def __call__(self, sample: Sample) -> None:
        for i, r in enumerate(sample.rates):
            self._packets[i] += r.packets[0]
            self._bytes[i] += r.bytes[0]
            self._seconds[i] += r.period_s
            if r.period_s >= self._min_period:
                self._pps[i].append(r.pps[0])

    def verdicts(self, speeds: Sequence[int | None]) -> tuple[Verdict, ...]:
        out = []
        for i, a in enumerate(self._attachments):
            pps = sorted(self._pps[i]) or [per_second(self._packets[i], self._seconds[i])]
            out.append(
                Verdict(
                    iface=a.iface,
                    intervals=len(self._pps[i]),
                    seconds=self._seconds[i],
                    packets=self._packets[i],
                    bytes=self._bytes[i],
                    pps_min=pps[0],
                    pps_median=statistics.median(pps),
                    pps_p99=percentile(pps, 99),
                    pps_max=pps[-1],
                    speed_mbps=speeds[i],
                )
            )
        return tuple(out)
