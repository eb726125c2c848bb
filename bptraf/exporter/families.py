"""Metric families that keep each sample's line prefix from scrape to scrape.

Every scrape yields the same series with new values. A Family is a prometheus_client metric family
(its writers and parsers take it as any other), but holds (template, value) rows, the template made
once per series with the series' labels already written: bptraf's writers then make each line with
one string join, which is most of what keeps a scrape of eight interfaces within a few milliseconds.
"""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample

Labels = tuple[tuple[str, str], ...]


def label_value(v: str) -> str:
    return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def labels_text(labels: Labels) -> str:
    """`{k="v",...}` as both exposition formats write it (empty without labels)."""
    return "{" + ",".join(f'{k}="{label_value(v)}"' for k, v in labels) + "}" if labels else ""


class Template(NamedTuple):
    name: str  # the sample's name
    labels: dict[str, str]
    prefix: str  # `name{labels} `: the line, but for the value


class Family(Metric):
    """One metric family of one scrape; `samples` is made from the rows for whoever asks."""

    def __init__(self, name: str, documentation: str, typ: str) -> None:
        super().__init__(name, documentation, typ)
        self.rows: list[tuple[Template, float]] = []

    @property
    def samples(self) -> list[Sample]:  # type: ignore[override]
        return [Sample(t.name, t.labels, v) for t, v in self.rows]

    @samples.setter
    def samples(self, _value: list[Sample]) -> None:
        pass  # Metric.__init__ starts with an empty list: the rows are the samples


class Families:
    """The families of one scrape, in the order first added; templates are shared across scrapes."""

    def __init__(self, templates: dict[tuple[str, Labels], Template]) -> None:
        self._by_name: dict[str, Family] = {}
        self._templates = templates

    def add(self, family: str, doc: str, typ: str, sample: str, labels: Labels, value: float) -> None:
        f = self._by_name.get(family)
        if f is None:
            f = self._by_name[family] = Family(family, doc, typ)
        key = (sample, labels)
        t = self._templates.get(key)
        if t is None:
            if len(self._templates) > 65536:  # flows come and go: start afresh rather than grow
                self._templates.clear()
            t = self._templates[key] = Template(sample, dict(labels), f"{sample}{labels_text(labels)} ")
        f.rows.append((t, value))

    def all(self) -> list[Metric]:
        return list(self._by_name.values())
