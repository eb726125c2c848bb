"""Where the XDP C sources live: inside the installed package, or kernel/ in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def kernel_dir() -> Path:
    """The directory holding count.c, drop.c and their headers."""
    try:
        # A wheel (and an editable install) maps kernel/ to the bptraf.kernel package.
        path = Path(str(resources.files("bptraf.kernel")))
    except ModuleNotFoundError:
        path = Path(__file__).resolve().parent.parent / "kernel"
    if not (path / "counters.h").is_file():
        path = Path(__file__).resolve().parent.parent / "kernel"
    return path
