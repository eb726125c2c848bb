"""Failures bptraf reports as one line, each with its exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


class BptrafError(Exception):
    """A failure the user can act on; str() is the one line to print."""

    exit_code = EXIT_RUNTIME


class UsageError(BptrafError):
    exit_code = EXIT_USAGE


class InterfaceGone(BptrafError):
    """A watched interface is no longer there as bptraf attached to it (deleted, renamed, moved)."""


class Stopped(Exception):
    """A stop signal arrived while bptraf was still starting: not a failure, nothing to print (exit 0)."""
