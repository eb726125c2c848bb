"""Command-line validation and error exits, without root."""

from __future__ import annotations

import subprocess
import sys

import pytest
from runner import ROOT

from bptraf import cli
from bptraf.errors import UsageError


def bptraf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bptraf", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("value", ["0", "-1", "0.05", "3601", "nan", "inf", "-inf", "abc", ""])
def test_bad_interval_is_a_usage_error(value, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parser().parse_args(["lo", "-i", value])
    assert exc.value.code == 2
    assert "argument -i/--interval" in capsys.readouterr().err


@pytest.mark.parametrize("value,expected", [("0.1", 0.1), ("1", 1.0), ("2.5", 2.5), ("3600", 3600.0)])
def test_good_intervals(value, expected):
    assert cli.parser().parse_args(["-i", value]).interval == expected


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "x"])
def test_bad_count_is_a_usage_error(value):
    with pytest.raises(SystemExit) as exc:
        cli.parser().parse_args(["-c", value])
    assert exc.value.code == 2


def test_defaults():
    args = cli.parser().parse_args([])
    assert (args.interval, args.count, args.drop, args.mode, args.plain, args.json) == (
        1.0,
        None,
        False,
        "auto",
        False,
        False,
    )


def test_plain_and_json_exclude_each_other():
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["--plain", "--json"])


@pytest.mark.parametrize("name", ["a" * 16, "eth0/1", "eth 0", "..", "\teth0"])
def test_invalid_interface_names(name):
    with pytest.raises(UsageError, match="invalid interface name"):
        cli.choose_interfaces([name])


def test_unknown_interface_lists_the_real_ones():
    proc = bptraf("nosuchif0", "--plain")
    assert proc.returncode == 2
    assert proc.stderr.startswith("bptraf: no interface 'nosuchif0'; interfaces here: ")
    assert "lo" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_interface_named_twice():
    with pytest.raises(UsageError, match="named twice"):
        cli.choose_interfaces(["lo", "lo"])


def test_help_has_examples():
    proc = bptraf("-h")
    assert proc.returncode == 0
    assert "examples:" in proc.stdout and "bptraf eth0 -d" in proc.stdout


def test_version_names_every_component():
    proc = bptraf("--version")
    assert proc.returncode == 0
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["bptraf", "bcc", "libbpf", "kernel"]


def test_too_many_interfaces():
    from bptraf.bpf import BpfSource
    from bptraf.errors import BptrafError

    with pytest.raises(BptrafError, match="1 to 8 interfaces"):
        BpfSource(["lo"] * 9)
