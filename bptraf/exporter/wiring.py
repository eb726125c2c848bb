"""The exporter's part of the command line: its options checked and its port bound before anything is
attached, the source shared with the scrape thread, and `-q`'s loop (bptraf/cli.py calls these)."""

from __future__ import annotations

from collections.abc import Callable

from bptraf.errors import UsageError


def bind_exporter(args):
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


def serve(exporter, source, args, note: Callable[[str], None]):
    """Start serving; the source is shared with the scrape thread from now on."""
    if exporter is None:
        return source
    from bptraf.exporter import xdp_program_id
    from bptraf.exporter.shared import Shared

    shared = Shared(source)
    exporter.start(shared, xdp_program_id, args.metrics_flows or 0)
    note(f"serving Prometheus metrics at {exporter.url}")
    return shared


def run_quiet(source, args, wait: Callable) -> None:
    """-q: the exporter alone. Wait for a stop signal (or -c intervals), watching the interfaces."""
    from bptraf.sampler import Sampler, Wait

    sampler = Sampler(source)
    done = 0
    while args.count is None or done < args.count:
        if wait(args.interval) is Wait.STOP:
            return
        done += 1
        sampler.check()
