"""The command line's options: parsing, defaults, and refusing options that would do nothing.

argparse cannot tell a default from a value the user gave, so the options whose meaning depends on
others default to None here, and settle() refuses or fills them once the output mode is known.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

from bptraf.errors import UsageError

TOP_DEFAULT = 10
FLOWS_MAX_DEFAULT = 16384
FLOWS_IDLE_DEFAULT = 60.0

EXAMPLES = """\
examples:
  bptraf eth0                 count packets on eth0 by protocol, pass them on
  bptraf eth0 -d              drop everything on eth0 and count it: how fast can this host receive?
  bptraf eth0 -d -c 30        the drop benchmark for 30 s, then a one-line verdict (pps, share of line rate)
  bptraf eth0 eth1 -i 5       two interfaces, 5-second intervals
  bptraf eth0 -c 10 --json    ten JSON lines, one per second, then exit
  bptraf eth0 | tee log       plain text lines (the TUI is only for terminals)
  bptraf eth0 --plain -t      plain text, each block headed by its ISO time (for logs)
  bptraf eth0 --flows --top 5 who is sending: the five biggest flows after each interval
  bptraf eth0 --json --sizes  JSON with a frame-size histogram per interval
  bptraf eth0 -q --listen 127.0.0.1:9747   Prometheus metrics only, on this host only

exit status: 0 done (-c reached, or a stop by Ctrl-C, SIGTERM, SIGHUP, or a closed pipe),
1 runtime failure, 2 usage error; failures are one line on stderr.
"""


def _bounded(kind, lo, hi, what):
    """An argparse type: a number of `kind` within [lo, hi]; NaN and infinities are refused."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, not {text}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bptraf",
        # A short usage, so an argparse error is two lines: the usage, then the error.
        usage="%(prog)s [IFACE ...] [options]  (-h for the options)",
        description="Count received packets by protocol with XDP and show live rates.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("interfaces", nargs="*", metavar="IFACE", help="interfaces to watch (default: the default route's)")
    p.add_argument(
        "-i",
        "--interval",
        type=_bounded(float, 0.1, 3600, "a number"),
        default=1.0,
        metavar="SECONDS",
        help="sampling interval, 0.1-3600 (default 1)",
    )
    p.add_argument(
        "-c", "--count", type=_bounded(int, 1, 1 << 62, "a whole number"), metavar="N", help="stop after N intervals"
    )
    p.add_argument(
        "-d",
        "--drop",
        action="store_true",
        help="drop benchmark: count totals only, DROP every packet, end with a verdict",
    )
    p.add_argument(
        "--mode",
        choices=("auto", "native", "generic"),
        default="auto",
        help="XDP mode (default auto: native, else generic)",
    )
    p.add_argument("--sizes", action="store_true", help="also keep a frame-size histogram (pass mode; TUI key z)")
    p.add_argument("--flows", action="store_true", help="also count per flow (pass mode; TUI key f)")
    p.add_argument("--no-tx", action="store_true", help="do not count what is sent (counted by default in pass mode)")
    p.add_argument(
        "--flows-max",
        type=_bounded(int, 16, 1 << 20, "a whole number"),
        metavar="N",
        help=f"flows held per IP version (default {FLOWS_MAX_DEFAULT}; with --flows, or the TUI)",
    )
    p.add_argument(
        "--flows-idle",
        type=_bounded(float, 1, 86400, "a number"),
        metavar="SECONDS",
        help=f"forget flows idle this long (default {FLOWS_IDLE_DEFAULT:g}; with --flows, or the TUI)",
    )
    p.add_argument("--resolve", action="store_true", help="TUI only: show flow hosts by name (reverse DNS; key n)")
    p.add_argument(
        "--top",
        type=_bounded(int, 1, 1000, "a whole number"),
        metavar="N",
        help=f"flows shown per interval (default {TOP_DEFAULT}; with --flows, or the TUI)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--plain", action="store_true", help="classic text lines, even on a terminal")
    out.add_argument("--json", action="store_true", help="one JSON object per interface per interval")
    p.add_argument(
        "-t", "--timestamps", action="store_true", help="plain output: head each block with its ISO 8601 time (UTC)"
    )
    p.add_argument(
        "--replay",
        metavar="FILE",
        help="open the TUI over the JSON lines of an earlier --json run (- for stdin); no root needed",
    )
    p.add_argument("-V", "--version", action="store_true", help="show bptraf, bcc, libbpf and kernel versions")
    _exporter_options(p)
    return p


def _exporter_options(p: argparse.ArgumentParser) -> None:
    from bptraf.exporter import DEFAULT_PORT

    g = p.add_argument_group("Prometheus exporter")
    g.add_argument(
        "--listen",
        nargs="?",
        const=str(DEFAULT_PORT),
        metavar="[ADDR:]PORT",
        help=f"serve /metrics on PORT, every address unless ADDR is given (default port {DEFAULT_PORT})",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no output: run the exporter alone, as a service")
    g.add_argument(
        "--metrics-flows",
        type=_bounded(int, 1, 1000, "a whole number"),
        metavar="N",
        help="also export the top N flows by rate (one series per flow: mind the cardinality)",
    )


def output_mode(args: argparse.Namespace, terminal: bool) -> str:
    """`quiet` (-q: no output), `tui`, `plain` or `json`: the TUI only when asked for nothing else and
    both ends are a terminal."""
    if args.quiet:
        return "quiet"
    if args.json:
        return "json"
    if args.plain or not terminal:
        return "plain"
    return "tui"


@dataclass(frozen=True)
class Settled:
    """The options that depend on each other, resolved: defaults filled in, nothing silently ignored."""

    top: int
    flows_max: int
    flows_idle: float


_FLOW_OPTIONS = (("top", "--top"), ("flows_max", "--flows-max"), ("flows_idle", "--flows-idle"))


def settle(args: argparse.Namespace, mode: str) -> Settled:
    """Refuse (UsageError, exit 2) an option that would do nothing in this mode; fill the defaults."""
    given = [flag for name, flag in _FLOW_OPTIONS if getattr(args, name) is not None]
    if args.resolve:
        given.append("--resolve")
    if args.drop and given:
        raise UsageError(f"-d counts totals only: {' and '.join(given)} would do nothing")
    if args.resolve and mode != "tui":
        raise UsageError("--resolve names hosts in the TUI only; plain and JSON output keep addresses")
    flows = args.flows or getattr(args, "metrics_flows", None)  # exported flows count per flow too
    if mode != "tui" and not flows and given:
        raise UsageError(f"{' and '.join(given)} only {'applies' if len(given) == 1 else 'apply'} with --flows")
    if args.timestamps and mode != "plain":
        why = "JSON records carry their own time" if mode == "json" else "the TUI shows the time"
        raise UsageError(f"--timestamps is for plain output (--plain, or a pipe): {why}")
    return Settled(
        top=TOP_DEFAULT if args.top is None else args.top,
        flows_max=FLOWS_MAX_DEFAULT if args.flows_max is None else args.flows_max,
        flows_idle=FLOWS_IDLE_DEFAULT if args.flows_idle is None else args.flows_idle,
    )
