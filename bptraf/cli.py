"""Command line: arguments, the choice of renderer, signals and exit codes all live here."""

from __future__ import annotations

import argparse
import math
import os
import platform
import signal
import sys
from collections.abc import Sequence

from bptraf import __version__, netif
from bptraf.errors import EXIT_OK, BptrafError, UsageError
from bptraf.source import Feature
from bptraf.source import check as check_features

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

EXAMPLES = """\
examples:
  bptraf eth0                 count packets on eth0 by protocol, pass them on
  bptraf eth0 -d              drop everything on eth0 and count it: how fast can this host receive?
  bptraf eth0 eth1 -i 5       two interfaces, 5-second intervals
  bptraf eth0 -c 10 --json    ten JSON lines, one per second, then exit
  bptraf eth0 | tee log       plain text lines (the TUI is only for terminals)
  bptraf eth0 --flows --top 5 who is sending: the five biggest flows after each interval
  bptraf eth0 --json --sizes  JSON with a frame-size histogram per interval
  bptraf eth0 -q --listen 127.0.0.1:9747   Prometheus metrics only, on this host only
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
    p.add_argument("-d", "--drop", action="store_true", help="drop benchmark: count totals only and DROP every packet")
    p.add_argument(
        "--mode",
        choices=("auto", "native", "generic"),
        default="auto",
        help="XDP mode (default auto: native, else generic)",
    )
    p.add_argument("--sizes", action="store_true", help="also keep a frame-size histogram (pass mode; TUI key z)")
    p.add_argument("--flows", action="store_true", help="also count per flow (pass mode; TUI key f)")
    p.add_argument(
        "--flows-max",
        type=_bounded(int, 16, 1 << 20, "a whole number"),
        default=16384,
        metavar="N",
        help="flow table size per IP version (default 16384)",
    )
    p.add_argument(
        "--flows-idle",
        type=_bounded(float, 1, 86400, "a number"),
        default=60.0,
        metavar="SECONDS",
        help="forget flows idle this long (default 60)",
    )
    p.add_argument("--resolve", action="store_true", help="TUI: show flow hosts by name (reverse DNS; key n)")
    p.add_argument(
        "--top",
        type=_bounded(int, 1, 1000, "a whole number"),
        default=10,
        metavar="N",
        help="flows shown per interval (default 10)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--plain", action="store_true", help="classic text lines, even on a terminal")
    out.add_argument("--json", action="store_true", help="one JSON object per interface per interval")
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


def versions() -> str:
    from bptraf.loader import bcc_version

    try:
        from bptraf import libbpf

        lib = libbpf.version()
    except OSError:
        lib = "not found"
    return f"bptraf {__version__}\nbcc {bcc_version()}\nlibbpf {lib}\nkernel {platform.release()}"


def note(message: str) -> None:
    print(f"bptraf: {message}", file=sys.stderr, flush=True)


def choose_interfaces(names: Sequence[str]) -> list[str]:
    if not names:
        found = netif.default_route_iface()
        if found is None:
            raise UsageError("no interface given and no default route to pick one from: name an interface")
        note(f"no interface given; watching {found}, which holds the default route")
        names = [found]
    if len(set(names)) != len(names):
        raise UsageError("an interface is named twice")
    for name in names:
        netif.resolve(name)
    return list(names)


def warn_drop(names: Sequence[str]) -> None:
    note(f"DROP mode: every packet arriving on {', '.join(names)} is dropped while bptraf runs")
    route = netif.default_route_iface()
    if route in names:
        note(
            f"WARNING: {route} holds the default route: this host loses its network until bptraf exits "
            "(if you are logged in over it, bound the run with -c)"
        )


def _signal_wait(timeout: float):
    """Sleep up to `timeout` seconds, or until a stop signal arrives (they are blocked and taken here)."""
    from bptraf.sampler import Wait

    return Wait.TIMEOUT if signal.sigtimedwait(STOP_SIGNALS, timeout) is None else Wait.STOP


def _run_lines(source, args) -> None:
    from bptraf.sampler import Sampler, run
    from bptraf.writers import JsonWriter, PlainWriter

    writer = (JsonWriter if args.json else PlainWriter)(sys.stdout, source.attachments, args.top)
    writer.start()
    run(Sampler(source), args.interval, args.count, _signal_wait, writer)


def _wants_tui(args) -> bool:
    return not (args.plain or args.json or args.quiet) and sys.stdout.isatty() and sys.stdin.isatty()


def _bind_exporter(args):
    """Check the exporter's options and bind its port, before anything is attached; None without --listen."""
    if args.listen is None:
        for flag, given in (("-q", args.quiet), ("--metrics-flows", args.metrics_flows)):
            if given:
                raise UsageError(f"{flag} needs --listen [ADDR:]PORT")
        return None
    if args.quiet and (args.plain or args.json):
        raise UsageError("-q prints nothing: it cannot be combined with --plain or --json")
    if args.metrics_flows and args.drop:
        raise UsageError("-d counts totals only: it cannot be combined with --metrics-flows")
    from bptraf.exporter import Exporter, parse_listen

    return Exporter(parse_listen(args.listen))


def _serve(exporter, source, args):
    """Start serving; the source is shared with the scrape thread from now on."""
    if exporter is None:
        return source
    from bptraf.exporter import xdp_program_id
    from bptraf.exporter.shared import Shared

    shared = Shared(source)
    exporter.start(shared, xdp_program_id, args.metrics_flows or 0)
    note(f"serving Prometheus metrics at {exporter.url}")
    return shared


def _run_quiet(source, args) -> None:
    """-q: the exporter alone. Wait for a stop signal (or -c intervals), watching the interfaces."""
    from bptraf.sampler import Sampler, Wait

    sampler = Sampler(source)
    done = 0
    while args.count is None or done < args.count:
        if _signal_wait(args.interval) is Wait.STOP:
            return
        done += 1
        sampler.check()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.version:
        print(versions())
        return EXIT_OK
    # Stop signals are blocked and taken synchronously by the sampling loop, so cleanup can never be
    # interrupted half-way; the TUI installs its own handlers on its event loop instead.
    tui = _wants_tui(args)
    mask = None if tui else signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    source = exporter = None
    try:
        features = Feature.NONE
        for name in ("sizes", "flows"):
            if getattr(args, name):
                features |= Feature[name.upper()]
        exporter = _bind_exporter(args)
        if args.metrics_flows:
            features |= Feature.FLOWS
        action = "drop" if args.drop else "pass"
        check_features(action, features)
        names = choose_interfaces(args.interfaces)
        from bptraf.bpf import BpfSource

        source = BpfSource(
            names,
            action=action,
            mode=args.mode,
            note=note,
            flows_max=args.flows_max,
            flows_idle_s=args.flows_idle,
            features=features,
        )
        if args.drop:
            warn_drop(names)
        source.open()
        source = _serve(exporter, source, args)
        if args.quiet:
            _run_quiet(source, args)
        elif tui:
            from bptraf.tui.app import run_tui

            run_tui(source, args.interval, args.count, args.top, args.resolve)
        else:
            _run_lines(source, args)
        return EXIT_OK
    except BptrafError as exc:
        note(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        # A reader such as `head` went away: detach quietly, and keep Python's final flush from failing.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        if exporter is not None:
            exporter.stop()  # first: no scrape may read the maps once they are closed
        if source is not None:
            source.close()
        if mask is not None:
            # A stop signal that came during cleanup has done its job: take it, then restore the mask.
            while signal.sigtimedwait(STOP_SIGNALS, 0) is not None:
                pass
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
