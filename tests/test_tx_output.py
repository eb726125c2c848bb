"""TX in the plain and JSON output (golden, fixed clock), and the --no-tx option, without root."""

from __future__ import annotations

import io
import json

from fakes import attachment

from bptraf import cli
from bptraf.model import Snapshot
from bptraf.rates import compute
from bptraf.sampler import Sample
from bptraf.source import Feature
from bptraf.writers import JsonWriter, PlainWriter

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z
A = (attachment("eth0"),)
NAMES = [c.name for c in A[0].counters]


def _sample(rx: dict, tx: dict | None, tx_sizes: tuple[int, ...] = (), features: Feature = Feature.TX) -> Sample:
    """One 1.25 s interval from zero to the given totals ({counter: (packets, bytes)})."""
    n, ns = len(NAMES), len(A[0].sizes)

    def col(d: dict, i: int) -> tuple[int, ...]:
        return tuple(d.get(name, (0, 0))[i] for name in NAMES)

    tx_fields = (col(tx, 0), col(tx, 1), tx_sizes or (0,) * ns) if tx is not None else ((), (), ())
    zero = Snapshot.zero(0, n, 2, ns, tx=tx is not None)
    cur = Snapshot(1_250_000_000, col(rx, 0), col(rx, 1), (0, 0), (0, 0), (0,) * ns, *tx_fields)
    return Sample(T0, (compute(zero, cur),), (cur,), None, features)


def test_plain_adds_tx_lines_after_the_received_block():
    sample = _sample(
        {"all": (1250, 125_000), "ipv4": (1250, 125_000), "udp": (1250, 125_000)},
        {"all": (2500, 3_750_000), "ipv6": (2500, 3_750_000), "tcp": (2500, 3_750_000)},
    )
    out = io.StringIO()
    PlainWriter(out, A)(sample)
    assert out.getvalue() == (
        "       all: 1000 pps 800.0 Kbps\n"
        "      IPv4: 1000 pps 800.0 Kbps\n"
        "       UDP: 1000 pps 800.0 Kbps\n"
        "       all TX: 2000 pps 24.00 Mbps\n"
        "      IPv6 TX: 2000 pps 24.00 Mbps\n"
        "       TCP TX: 2000 pps 24.00 Mbps\n"
        "\n"
    )


def test_plain_idle_tx_shows_all_only_and_no_tx_shows_nothing():
    out = io.StringIO()
    PlainWriter(out, A)(_sample({}, {}))
    assert out.getvalue() == "       all: 0 pps 0 bps\n       all TX: 0 pps 0 bps\n\n"
    out = io.StringIO()
    PlainWriter(out, A)(_sample({}, None, features=Feature.NONE))
    assert out.getvalue() == "       all: 0 pps 0 bps\n\n"


def _record(sample: Sample) -> dict:
    out = io.StringIO()
    JsonWriter(out, A)(sample)
    return json.loads(out.getvalue())


def test_json_tx_object_is_shaped_like_counters():
    rx = {"all": (10, 600), "arp": (10, 600)}
    record = _record(_sample(rx, {"all": (5, 7570), "ipv4": (5, 7570), "udp": (5, 7570)}))
    assert list(record["tx"]) == list(record["counters"]) == NAMES
    assert record["tx"]["udp"] == {"packets": 5, "bytes": 7570, "pps": 4.0, "bps": 48_448.0}
    assert record["tx"]["arp"] == {"packets": 0, "bytes": 0, "pps": 0.0, "bps": 0.0}
    assert record["counters"]["arp"] == {"packets": 10, "bytes": 600, "pps": 8.0, "bps": 3840.0}
    assert "tx_sizes" not in record and "sizes" not in record


def test_json_tx_sizes_with_sizes_on_and_no_tx_keys_without_tx():
    sizes = (1, 0, 0, 0, 0, 4, 0)
    record = _record(_sample({}, {"all": (5, 7570)}, sizes, Feature.TX | Feature.SIZES))
    assert record["tx_sizes"] == dict(zip(A[0].sizes, sizes))
    assert list(record["sizes"]) == list(A[0].sizes)
    record = _record(_sample({}, None, features=Feature.SIZES))
    assert "tx" not in record and "tx_sizes" not in record


def test_no_tx_is_off_by_default_and_refused_with_drop(capsys):
    assert cli.parser().parse_args(["eth0"]).no_tx is False
    assert cli.parser().parse_args(["eth0", "--no-tx"]).no_tx is True
    assert cli.main(["lo", "-d", "--no-tx", "--plain"]) == 2
    assert capsys.readouterr().err == "bptraf: -d never counts what is sent: --no-tx would change nothing\n"
