"""The Source seam: what every counter source offers (the live maps, a replayed log, a test fake).

Everything downstream (sampler, writers, TUI, exporter) talks to a Source and nothing else. The rule
that `-d` counts totals only lives here, in `available()`.
"""

from __future__ import annotations

import enum
from typing import Protocol

from bptraf.errors import UsageError
from bptraf.flows import Flow
from bptraf.model import Attachment, Snapshot


class Feature(enum.Flag):
    """What a source counts beyond the per-protocol classes; each can be switched at run time."""

    NONE = 0
    SIZES = enum.auto()  # frame-size histogram
    FLOWS = enum.auto()  # per-flow totals
    TX = enum.auto()  # what the host sends, counted on egress

    @classmethod
    def parse(cls, names: str) -> Feature:
        """`sizes,flows` (as JSON logs and the CLI spell them) to a Feature."""
        out = cls.NONE
        for name in filter(None, (n.strip() for n in names.split(","))):
            try:
                out |= cls[name.upper()]
            except KeyError:
                raise ValueError(f"unknown feature {name!r}") from None
        return out

    def names(self) -> tuple[str, ...]:
        """`("sizes", "flows")`: lower-case member names, in declaration order."""
        return tuple(m.name.lower() for m in Feature if m and m in self)


def available(action: str) -> Feature:
    """What a program that does `action` can count: `-d` (drop) counts totals only."""
    return Feature.NONE if action == "drop" else Feature.SIZES | Feature.FLOWS | Feature.TX


def check(action: str, features: Feature) -> None:
    """Refuse a feature the action cannot count, as a usage error."""
    extra = features & ~available(action)
    if extra:
        flags = " or ".join(f"--{name}" for name in extra.names())
        raise UsageError(f"-d counts totals only: it cannot be combined with {flags}")


class Source(Protocol):
    """A counter source. open()ed by whoever made it; samplers only read."""

    attachments: tuple[Attachment, ...]
    ncpus: int  # per-CPU tuples in every Snapshot have this length
    features: Feature  # switched on now
    available: Feature  # what set_features() may switch on

    def zero(self) -> tuple[Snapshot, ...]:
        """The totals at attach time (zeros for fresh maps), one per attachment."""
        ...

    def read(self) -> tuple[Snapshot, ...]:
        """Totals since attach, one per attachment, stamped right after the read."""
        ...

    def read_flows(self) -> list[Flow]:
        """Every live flow's totals (all attachments); [] while FLOWS is off."""
        ...

    def set_features(self, features: Feature) -> None:
        """Switch features on or off; raises BptrafError if the source cannot."""
        ...

    def gone(self) -> tuple[str, ...]:
        """One sentence per watched interface that is no longer there as attached (deleted, renamed, moved)."""
        ...

    def close(self) -> None:
        """Undo everything open() did; safe to call twice."""
        ...


def toggled(source: Source, feature: Feature) -> Feature:
    """The source's feature set with `feature` flipped."""
    return source.features ^ feature
