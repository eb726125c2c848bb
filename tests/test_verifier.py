"""The verifier's budget: every program variant, loaded for 8 interfaces, stays under a stated number of
verified instructions, as the kernel reports it (bpf_prog_info.verified_insns).

Verification is most of bptraf's start-up after the compile, and grows with every branch added to the
parser; a change that doubles it should be a choice, not a surprise. The limits are about 1.3x what
the programs take today (kernel 6.18), far below the kernel's own limit of 1,000,000.
"""

from __future__ import annotations

import os

import pytest

from bptraf import libbpf, loader
from bptraf.counters import max_ifaces
from bptraf.source import Feature

pytestmark = pytest.mark.bpf

BUDGET = {
    ("pass", Feature.NONE): 2_800,
    ("pass", Feature.SIZES): 3_000,
    # The flow tables' probe loop, unrolled: 26,093 (20,207 with kernel hash maps)
    ("pass", Feature.FLOWS): 34_000,
    ("pass", Feature.SIZES | Feature.FLOWS): 34_000,
    ("drop", Feature.NONE): 40,
    ("egress", Feature.NONE): 3_600,  # what the host sends, on tcx egress: 2,736
    ("egress", Feature.SIZES): 7_500,  # 5,680
    ("egress", Feature.FLOWS): 35_000,  # + sent frames into the flow tables: 26,620
    ("egress", Feature.SIZES | Feature.FLOWS): 39_000,  # 29,838
}


@pytest.mark.parametrize("action", ["pass", "drop", "egress"])
def test_every_variant_stays_within_its_verifier_budget(action):
    nifaces = max_ifaces()
    assert nifaces == 8
    # Egress is built after the receive side, as bptraf runs it: its flows variants use count.c's tables.
    also = ("egress",) if action == "egress" else ()
    loaded = loader.load("pass" if also else action, nifaces, loader.FLOWS_MAX_DEFAULT, also=also)
    progs, maps = loaded[action]
    owned = [fd for p, m in loaded.values() for fd in [*(f for fs in p.values() for f in fs), *m.values()]]
    try:
        assert set(progs) == {f for a, f in BUDGET if a == action}  # a new variant needs a budget
        for features, fds in progs.items():
            assert len(fds) == nifaces
            used = [libbpf.prog_verified_insns(fd) for fd in fds]
            assert all(0 < n <= BUDGET[action, features] for n in used), (action, features, used)
    finally:
        for fd in owned:
            os.close(fd)
