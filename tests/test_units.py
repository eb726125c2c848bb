"""SI formatting in the classic bptraf form."""

import pytest

from bptraf.units import rate, si


@pytest.mark.parametrize(
    "value,text",
    [
        (0, "0"),
        (0.4, "0"),
        (-3, "0"),
        (1, "1"),
        (999.6, "1000"),
        (9999, "9999"),
        (9999.4, "9999"),
        (9999.5, "10.00 K"),
        (12_880, "12.88 K"),
        (99_990, "99.99 K"),
        (99_995, "100.0 K"),
        (100_000, "100.0 K"),
        (999_900, "999.9 K"),
        (999_950, "1000 K"),
        (9_999_499, "9999 K"),
        (9_999_500, "10.00 M"),
        (154_900_000, "154.9 M"),
        (9_999_499_999, "9999 M"),
        (9_999_500_000, "10.00 G"),
        (40_000_000_000, "40.00 G"),
        (400_000_000_000, "400.0 G"),
        (12_345_000_000_000, "12345 G"),
    ],
)
def test_si(value, text):
    assert si(value) == text


@pytest.mark.parametrize(
    "value,unit,text",
    [(12_880, "pps", "12.88 Kpps"), (154.9e6, "bps", "154.9 Mbps"), (0, "pps", "0 pps"), (512, "bps", "512 bps")],
)
def test_rate(value, unit, text):
    assert rate(value, unit) == text
