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


def test_plain_and_json_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parser().parse_args(["--plain", "--json"])
    assert exc.value.code == 2
    assert "argument --json: not allowed with argument --plain" in capsys.readouterr().err


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
    import platform
    import re

    from bptraf import __version__

    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert list(lines) == ["bptraf", "bcc", "libbpf", "kernel"]
    assert lines["bptraf"] == __version__
    assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?\S*", lines["bcc"]), lines["bcc"]
    assert re.fullmatch(r"v?\d+\.\d+\S*", lines["libbpf"]), lines["libbpf"]
    assert lines["kernel"] == platform.release()


def test_too_many_interfaces_is_a_usage_error_with_one_prefix():
    proc = bptraf(*[f"if{i}" for i in range(9)], "--plain")
    assert proc.returncode == 2
    assert proc.stderr == "bptraf: at most 8 interfaces at once, not 9\n"


def test_missing_bcc_is_one_line_with_the_fix(monkeypatch, capfd):
    import importlib.util

    from bptraf import libbpf, netif

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "bcc" else real(name, *a))
    monkeypatch.setattr(netif, "has_bpf_privileges", lambda: True)
    monkeypatch.setattr(libbpf, "xdp_prog_ids", lambda ifindex: {})
    assert cli.main(["lo", "--plain", "-c", "1"]) == 1
    err = capfd.readouterr().err
    assert err.startswith("bptraf: bcc's Python module is not importable: install it with `apt install python3-bpfcc`")
    assert err.count("\n") == 1


def test_missing_headers_name_the_package():
    from bptraf.bpf import check_headers
    from bptraf.errors import BptrafError

    with pytest.raises(BptrafError, match=r"install linux-headers-0\.0\.0-none, or run"):
        check_headers("0.0.0-none")


def test_drop_warns_louder_on_the_default_route(monkeypatch, capsys):
    monkeypatch.setattr(cli.netif, "default_route_iface", lambda: "eth7")
    cli.warn_drop(["eth7"])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "bptraf: DROP mode: every packet arriving on eth7 is dropped while bptraf runs"
    assert err[1].startswith("bptraf: WARNING: eth7 holds the default route: this host loses its network")
    cli.warn_drop(["veth0"])
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_drop_with_flows_or_sizes_is_a_usage_error(capsys):
    assert cli.main(["lo", "-d", "--sizes", "--plain"]) == 2
    assert capsys.readouterr().err == "bptraf: -d counts totals only: it cannot be combined with --sizes\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["lo", "--top", "3", "--plain"],
        ["lo", "--flows-max", "64", "--json"],
        ["lo", "--resolve", "--flows", "--json"],
        ["lo", "-d", "--top", "3", "--plain"],
        ["lo", "-t", "--json"],
    ],
)
def test_an_option_that_would_do_nothing_exits_2_with_one_line(argv):
    proc = bptraf(*argv)
    assert proc.returncode == 2
    assert proc.stderr.startswith("bptraf: ") and proc.stderr.count("\n") == 1 and proc.stdout == ""


def test_an_argparse_error_is_usage_then_error():
    proc = bptraf("lo", "--mode", "turbo")
    assert proc.returncode == 2
    usage, error = proc.stderr.splitlines()
    assert usage.startswith("usage: bptraf ") and error.startswith("bptraf: error: argument --mode")


def test_a_closed_stderr_does_not_turn_an_error_into_a_crash():
    proc = subprocess.run(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", sys.executable, "-m", "bptraf", "nosuchif0", "--plain"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stdout == ""
