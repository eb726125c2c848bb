"""The classic bptraf number format: four significant digits with an SI prefix."""

from __future__ import annotations

_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "K"))


def si(value: float) -> str:
    """`1234`, `12.88 K`, `154.9 M`, `1000 G`: the number and its prefix."""
    if value < 9999.5:
        return f"{round(max(value, 0.0))}"
    for scale, prefix in _PREFIXES:
        if value >= scale * 9.9995:
            x = value / scale
            if x < 99.995:
                return f"{x:.2f} {prefix}"
            if x < 999.95:
                return f"{x:.1f} {prefix}"
            return f"{x:.0f} {prefix}"
    raise AssertionError("unreachable")


def rate(value: float, unit: str) -> str:
    """`12.88 Kpps`, `0 pps`, `154.9 Mbps`."""
    text = si(value)
    return f"{text}{unit}" if text[-1].isalpha() else f"{text} {unit}"
