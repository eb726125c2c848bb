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
    """A watched interface disappeared while bptraf ran."""
