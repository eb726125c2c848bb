"""Shared fixtures. Tests marked `bpf` need root, bcc and XDP: they skip where those are missing,
except in CI (CI=true), where a missing BPF must fail the run instead of hiding it."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Every bptraf a test starts compiles, as on a first run: the tests of a stalled, killed or starved
# loader need its child, and no test finds what another one left in a cache (tests/test_startup.py
# turns the cache on, each time in a directory of its own).
os.environ["BPTRAF_CACHE_DIR"] = ""


def _bpf_missing() -> str | None:
    if os.geteuid() != 0:
        return "not root"
    try:
        import bcc  # noqa: F401
    except ImportError:
        return "bcc is not importable (python3-bpfcc, and a venv with --system-site-packages)"
    release = platform.release()
    if not Path(f"/lib/modules/{release}/build").exists() and not Path("/sys/kernel/kheaders.tar.xz").exists():
        return f"no kernel headers at /lib/modules/{release}/build"
    if not Path("/sys/fs/bpf").exists() and not Path("/proc/sys/net/core/bpf_jit_enable").exists():
        return "this kernel has no BPF"
    return None


def pytest_collection_modifyitems(config, items):
    missing = _bpf_missing()
    if missing is None:
        return
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    for item in items:
        if "bpf" in item.keywords:
            if in_ci:
                item.add_marker(pytest.mark.usefixtures("_bpf_required"))
            else:
                item.add_marker(pytest.mark.skip(reason=f"BPF unavailable: {missing}"))


@pytest.fixture
def _bpf_required():
    pytest.fail(f"CI=true and BPF is unavailable: {_bpf_missing()}")


@pytest.fixture
def lab():
    from netlab import VethLab

    lab = VethLab.create()
    yield lab
    lab.destroy()


@pytest.fixture
def addressed_lab():
    from netlab import VethLab

    lab = VethLab.create(addresses=True)
    yield lab
    lab.destroy()
