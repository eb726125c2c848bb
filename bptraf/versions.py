"""What `bptraf --version` prints: bptraf's, bcc's and libbpf's versions and the kernel's release."""

from __future__ import annotations

import platform

from bptraf import __version__


def versions() -> str:
    from bptraf.loader import bcc_version

    try:
        from bptraf import libbpf

        lib = libbpf.version()
    except OSError:
        lib = "not found"
    return f"bptraf {__version__}\nbcc {bcc_version()}\nlibbpf {lib}\nkernel {platform.release()}"
