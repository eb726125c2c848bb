"""Command line: the choice of renderer, signals and exit codes all live here (options in options.py).

The contract: stop signals (SIGINT, SIGTERM, SIGHUP) are blocked from the start and taken
synchronously, so no cleanup is ever cut in half; they end bptraf with exit 0, even while it is still
compiling or stdout's reader has stopped reading. Every failure is one line on stderr: exit 2 for usage,
1 at run time. Nothing stays attached in any case.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import time
from collections.abc import Sequence

from bptraf import netif, output
from bptraf.errors import EXIT_OK, EXIT_RUNTIME, BptrafError, Stopped, UsageError
from bptraf.exporter.wiring import bind_exporter, run_quiet, serve
from bptraf.options import Settled, output_mode, parser, settle
from bptraf.source import Feature
from bptraf.source import check as check_features
from bptraf.versions import versions

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def note(message: str) -> None:
    with contextlib.suppress(OSError):  # stderr full or gone: the exit code still tells
        print(f"bptraf: {message}", file=sys.stderr, flush=True)


def choose_interfaces(names: Sequence[str]) -> list[str]:
    from bptraf.counters import max_ifaces

    if not names:
        found = netif.default_route_iface()
        if found is None:
            raise UsageError("no interface given and no default route to pick one from: name an interface")
        note(f"no interface given; watching {found}, which holds the default route")
        names = [found]
    if len(names) > max_ifaces():
        raise UsageError(f"at most {max_ifaces()} interfaces at once, not {len(names)}")
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


class Stops:
    """The stop signals, blocked and taken here: `pending(timeout)` waits up to `timeout` for one and
    says whether one has come (now or before)."""

    def __init__(self) -> None:
        self.seen = False

    def pending(self, timeout: float = 0.0) -> bool:
        if not self.seen and signal.sigtimedwait(STOP_SIGNALS, timeout) is not None:
            self.seen = True
        return self.seen

    def wait(self, timeout: float):
        from bptraf.sampler import Wait

        return Wait.STOP if self.pending(timeout) else Wait.TIMEOUT


def _features(args) -> Feature:
    features = Feature.NONE
    for name in ("sizes", "flows"):
        if getattr(args, name):
            features |= Feature[name.upper()]
    if args.metrics_flows:
        features |= Feature.FLOWS
    check_features("drop" if args.drop else "pass", features)
    if args.drop and args.no_tx:
        raise UsageError("-d never counts what is sent: --no-tx would change nothing")
    if not (args.drop or args.no_tx):
        features |= Feature.TX
    return features


def _run_lines(source, args, opts: Settled, stream, stops: Stops) -> None:
    from bptraf.sampler import Sampler, run
    from bptraf.summary import Tally
    from bptraf.writers import JsonWriter, PlainWriter

    if args.json:
        writer = JsonWriter(stream, source.attachments, opts.top)
    else:
        writer = PlainWriter(stream, source.attachments, opts.top, args.timestamps)
    writer.start()
    emit = writer
    tally = None
    if args.drop:
        tally = Tally(source.attachments, args.interval)

        def emit(sample) -> None:
            tally(sample)
            writer(sample)

    sampler = Sampler(source)
    run(sampler, args.interval, args.count, stops.wait, emit)
    if tally is not None:
        writer.summary(tally.verdicts([netif.speed_mbps(a.iface) for a in source.attachments]), time.time())


def _live_source(names: list[str], args, opts: Settled, features: Feature, stops: Stops):
    """The XDP programs on `names`, not yet open; a stop while it compiles ends the start-up."""
    from bptraf.bpf import BpfSource

    return BpfSource(
        names,
        action="drop" if args.drop else "pass",
        mode=args.mode,
        note=note,
        flows_max=opts.flows_max,
        flows_idle_s=opts.flows_idle,
        features=features,
        interrupted=stops.pending,
    )


def main(argv: Sequence[str] | None = None) -> int:
    stdout_open = output.guard_stdio()
    args = parser().parse_args(argv)
    if args.version:
        return _print_versions() if stdout_open else _fail(BptrafError(output.STDOUT_CLOSED))
    stops = Stops()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        code, tui_ran = _run(args, stops, stdout_open)
    finally:
        # A stop signal that came during cleanup has done its job: take it, then restore the mask (also when
        # an error escapes, so an in-process caller gets its signals back).
        while signal.sigtimedwait(STOP_SIGNALS, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if tui_ran and argv is None:  # run as the program, not called by a test
        _leave(code)
    return code


def _run(args, stops: Stops, stdout_open: bool) -> tuple[int, bool]:
    """Open the source, run the chosen output until a stop, close everything: (exit code, whether the TUI ran)."""
    source = stream = exporter = None
    code = EXIT_OK
    tui_ran = False
    try:
        replay = _replay_source(args) if args.replay else None
        mode = output_mode(args, stdout_open and os.isatty(1) and os.isatty(0))
        opts = settle(args, mode)
        if mode == "plain" and not args.plain and stdout_open and os.isatty(1) and not os.isatty(0):
            note("stdin is not a terminal, so the TUI could not take keys: writing plain lines instead")
        if replay is not None and mode != "tui":
            raise BptrafError("--replay opens the TUI, which needs a terminal")
        exporter = bind_exporter(args)
        features = _features(args)
        if replay is not None:
            source = replay
        else:
            names = choose_interfaces(args.interfaces)
            if mode in ("plain", "json"):
                stream = output.stdout_stream(stdout_open, stops.pending)
            source = _live_source(names, args, opts, features, stops)
            source.open()
            if args.drop:
                warn_drop(names)  # only now that it is really dropping
        source = serve(exporter, source, args, note)
        if mode == "quiet":
            run_quiet(source, args, stops.wait)
        elif mode == "tui":
            tui_ran = True
            _run_tui(source, args, stops, replay)
        else:
            _run_lines(source, args, opts, stream, stops)
    except Stopped:
        pass
    except BptrafError as exc:
        code = _fail(exc)
    except BrokenPipeError:
        pass  # a reader such as `head` went away: detach quietly
    except (OSError, MemoryError) as exc:
        note(_describe(exc))
        code = EXIT_RUNTIME
    except KeyboardInterrupt:
        pass
    finally:
        if exporter is not None:
            exporter.stop()  # first: no scrape may read the maps once they are closed
        if source is not None:
            source.close()  # then: nothing waits on stdout while a program is attached
    if stream is not None:
        code = _finish(stream, stops, code)
    return code, tui_ran


def _leave(code: int) -> None:
    """End the process now, all detached and written: after the TUI, the interpreter's own teardown
    (unloading Textual's modules) takes about a second of CPU, and a closed terminal must see bptraf
    gone within 2 s."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _fail(exc: BptrafError) -> int:
    note(str(exc))
    return exc.exit_code


def _finish(stream, stops: Stops, code: int) -> int:
    """Let the reader take what is queued: all of it after a normal end, a moment's worth after a stop."""
    try:
        if not stream.finish(patient=code == EXIT_OK and not stops.seen):
            note(f"stdout's reader is not reading: {stream.out.unwritten} blocks of output were not written")
    except BrokenPipeError:
        pass
    except BptrafError as exc:
        if code == EXIT_OK:
            note(str(exc))
            code = exc.exit_code
    stream.out.close()
    return code


def _describe(exc: BaseException) -> str:
    """A system error bptraf did not foresee, as one line."""
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        from bptraf.limits import open_files

        return f"too many open files ({open_files()}): raise it, e.g. `ulimit -n 1024`"
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if getattr(exc, "filename", None) else "")


def _run_tui(source, args, stops: Stops, replay=None) -> None:
    """The TUI draws on stdout (stderr may go anywhere: `2>log` keeps the screen and the log clean).
    The stop signals stay blocked until its event loop takes them, so one that comes while it starts
    still ends bptraf with 0 like `q`; a stop that came before it started ends bptraf here."""
    if stops.pending(0.0):
        return
    from bptraf.tui.start import run_tui

    try:
        run_tui(source, args.interval, args.count, args.resolve, fd=sys.stdout.fileno(), stop_signals=STOP_SIGNALS,
                replay=replay, top=args.top)  # fmt: skip
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # the loop is gone: block them again


def _replay_source(args):
    """`--replay FILE`: a log instead of the live maps; no interface, no BPF. With `-`, the log comes
    on stdin (read to its end) and the keys from the terminal."""
    from bptraf.replay import open_log

    given = [flag for flag, on in (("an interface", args.interfaces), ("-d", args.drop), ("--plain", args.plain),
             ("--json", args.json), ("--sizes", args.sizes), ("--flows", args.flows), ("--listen", args.listen),
             ("-q", args.quiet)) if on]  # fmt: skip
    if given:
        raise UsageError(f"--replay shows a log in the TUI: it takes no {', '.join(given)}")
    source = open_log(args.replay, sys.stdin)
    if args.replay == "-":
        try:
            tty = os.open("/dev/tty", os.O_RDWR)
        except OSError:
            raise BptrafError("--replay - needs a terminal for the screen: none found") from None
        os.dup2(tty, 0)
        os.close(tty)
    return source


def _print_versions() -> int:
    try:
        os.write(sys.stdout.fileno(), f"{versions()}\n".encode())
    except BrokenPipeError:
        pass
    except OSError as exc:
        return _fail(BptrafError(f"cannot write to stdout: {exc.strerror}"))
    return EXIT_OK
