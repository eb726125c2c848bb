"""The programs bptraf runs, by set and feature set, and their loading: from the cache when an earlier
run compiled the same thing, else compiled by bcc in a child (bptraf/build.py); then, in this process,
the maps are created and only the programs asked for are loaded, the others when first asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bptraf import cache
from bptraf.build import Recipe, build, compile_bcc, map_failure
from bptraf.build import bcc_version as bcc_version
from bptraf.build import check_bcc as check_bcc
from bptraf.build import import_bcc as import_bcc
from bptraf.errors import BptrafError
from bptraf.image import Image, ImageError, create_map, load_btf, load_prog
from bptraf.source import Feature

FLOWS_MAX_DEFAULT = 16384
_SIZES, _FLOWS = Feature.SIZES, Feature.FLOWS

# source, {feature set: entry-point prefix} (the source's BPTRAF_PROG), {role: map name}, program type
_PROGRAMS = {
    "pass": (
        "count.c",
        {
            Feature.NONE: "bptraf_count_",
            _SIZES: "bptraf_count_sizes_",
            _FLOWS: "bptraf_count_flows_",
            _SIZES | _FLOWS: "bptraf_count_sizes_flows_",
        },
        {
            "stats": "bptraf_stats",
            "flows4": "bptraf_flows4",
            "flows6": "bptraf_flows6",
            "flow_full": "bptraf_flow_full",
            "flow_stats": "bptraf_flow_stats",
        },
        "XDP",
    ),
    "drop": ("drop.c", {Feature.NONE: "bptraf_drop_"}, {"stats": "bptraf_drop"}, "XDP"),
    # What pass mode sends, on tc egress (kernel/egress.c); its flows variants add to count.c's tables.
    "egress": (
        "egress.c",
        {
            Feature.NONE: "bptraf_egress_",
            _SIZES: "bptraf_egress_sizes_",
            _FLOWS: "bptraf_egress_flows_",
            _SIZES | _FLOWS: "bptraf_egress_sizes_flows_",
        },
        {"stats": "bptraf_tx_stats"},
        "SCHED_CLS",
    ),
}
VARIANTS = {action: tuple(v) for action, (_src, v, _maps, _kind) in _PROGRAMS.items()}
MAP_ROLES = {action: tuple(maps) for action, (_src, _v, maps, _kind) in _PROGRAMS.items()}
_KINDS = {"XDP": "XDP", "SCHED_CLS": "tc egress"}
_KIND_NAMES = {6: "XDP", 3: "SCHED_CLS"}  # enum bpf_prog_type


def recipe(sets: tuple[str, ...], nifaces: int, flows_max: int) -> Recipe:
    """The compile of `sets` ("pass", "drop", "egress") as one object: every variant for every slot."""
    entries = tuple(
        (f"{prefix}{slot}", _PROGRAMS[s][3])
        for s in sets
        for prefix in _PROGRAMS[s][1].values()
        for slot in range(nifaces)
    )
    return Recipe(tuple(_PROGRAMS[s][0] for s in sets), nifaces, flows_max, entries)


def image_for(wanted: Recipe, interrupted: Callable[[], bool] = lambda: False) -> Image:
    """The compiled Image of `wanted`: the cache's, else compiled now (and kept)."""
    name = cache.key(wanted)
    kept = cache.get(name)
    if kept is not None:
        try:
            return Image.from_bytes(kept)
        except ImageError:
            pass  # from an older bptraf, or damaged: compile afresh, and replace it
    data = build(wanted, interrupted)
    try:
        found = Image.from_bytes(data)
    except ImageError as exc:
        raise BptrafError(f"the program loader sent something unreadable: {exc}") from None
    cache.put(name, data)
    return found


class Programs:
    """One Image in the kernel: its maps, created at once, and its programs, each loaded when first asked
    for (the verifier is most of the cost). Owns every fd it hands out until close()."""

    def __init__(self, found: Image, sets: tuple[str, ...], nifaces: int, flows_max: int) -> None:
        self._image = found
        self.sets = sets
        self.nifaces = nifaces
        self._progs: dict[tuple[str, Feature], list[int]] = {}
        self._fds: list[int] = []
        btf = -1
        try:
            with contextlib.suppress(OSError):  # a kernel that refuses it gets untyped maps
                btf = load_btf(found.btf) if found.btf else -1
            for spec in found.maps:
                try:
                    self._fds.append(create_map(spec, btf))
                except OSError as exc:
                    raise BptrafError(map_failure(spec.name, exc.strerror or str(exc), flows_max)) from None
        except BaseException:
            self.close()
            raise
        finally:
            if btf >= 0:
                os.close(btf)  # the maps hold it now
        self._by_name = {spec.name: fd for spec, fd in zip(found.maps, self._fds)}

    def maps(self, s: str) -> dict[str, int]:
        """{role: map fd} of set `s`."""
        return {role: self._by_name[name] for role, name in _PROGRAMS[s][2].items()}

    def progs(self, s: str, features: Feature) -> list[int]:
        """Set `s`'s program fds by slot for `features`, loaded now if they were not yet."""
        self.load([(s, features)])
        return self._progs[s, features]

    def load(self, wanted: list[tuple[str, Feature]]) -> None:
        """Load the programs of every (set, feature set) in `wanted` that is not loaded yet, for every slot.

        The verifier is most of the cost, and runs for several privileged loads at once: one thread per
        CPU loads them (ctypes lets go of the GIL in the call)."""
        todo = [(s, f) for s, f in dict.fromkeys(wanted) if (s, f) not in self._progs]
        names = [f"{_PROGRAMS[s][1][f]}{slot}" for s, f in todo for slot in range(self.nifaces)]
        if not names:
            return
        with ThreadPoolExecutor(min(len(names), os.cpu_count() or 1)) as pool:
            done = list(pool.map(self._load_one, names))
        refused = next((r for r in done if isinstance(r, str)), None)
        if refused is not None:
            for fd in done:
                if isinstance(fd, int):
                    os.close(fd)
            raise BptrafError(refused)
        for i, key in enumerate(todo):
            self._progs[key] = done[i * self.nifaces : (i + 1) * self.nifaces]

    def _load_one(self, name: str) -> int | str:
        """A program's fd, or why the kernel refused it."""
        prog = self._image.progs[name]
        try:
            return load_prog(name, prog, self._image.license, self._fds)
        except OSError as exc:
            kind = _KINDS.get(_KIND_NAMES.get(prog.type, ""), "BPF")
            return f"the kernel refused the {kind} program {name}: {exc.strerror}"

    def loaded(self, s: str) -> tuple[Feature, ...]:
        """The feature sets of `s` whose programs are loaded, in the order they were."""
        return tuple(f for t, f in self._progs if t == s)

    def release(self) -> list[int]:
        """Every fd, now the caller's to close."""
        out = [fd for fds in self._progs.values() for fd in fds] + self._fds
        self._progs, self._fds = {}, []
        return out

    def close(self) -> None:
        """Close every program and map; safe to call twice."""
        for fd in self.release():
            os.close(fd)


def open_programs(
    action: str,
    nifaces: int,
    flows_max: int,
    interrupted: Callable[[], bool] = lambda: False,
    also: tuple[str, ...] = (),
) -> Programs:
    """The programs of `action` and the sets in `also` (such as "egress"), maps created, none loaded yet.

    `interrupted` is polled while a child compiles: when it says so, the child is killed and Stopped
    raised, so a stop signal never waits on a compile."""
    sets = (action, *also)
    return Programs(image_for(recipe(sets, nifaces, flows_max), interrupted), sets, nifaces, flows_max)


Loaded = dict[str, tuple[dict[Feature, list[int]], dict[str, int]]]


def load(
    action: str,
    nifaces: int,
    flows_max: int,
    interrupted: Callable[[], bool] = lambda: False,
    also: tuple[str, ...] = (),
) -> Loaded:
    """{set: ({feature set: program fds by slot}, {role: map fd})}, every variant loaded; the fds are the
    caller's. (bptraf itself loads lazily: open_programs.)"""
    programs = open_programs(action, nifaces, flows_max, interrupted, also)
    try:
        out = {s: ({f: programs.progs(s, f) for f in VARIANTS[s]}, programs.maps(s)) for s in programs.sets}
    except BaseException:
        programs.close()
        raise
    handed = {
        fd for progs, maps in out.values() for fd in [*maps.values(), *(x for fds in progs.values() for x in fds)]
    }
    for fd in programs.release():
        if fd not in handed:
            os.close(fd)
    return out


def load_sets(bcc, sets: tuple[str, ...], nifaces: int, flows_max: int = FLOWS_MAX_DEFAULT):
    """In this process, with bcc (benchmarks and tests): compile `sets` as one object and load every
    variant for every slot. The bcc object (which owns the fds) and {set: ({feature set: fds by slot},
    {role: map fd})}."""
    bpf = compile_bcc(bcc, recipe(sets, nifaces, flows_max))
    out = {}
    for s in sets:
        _src, variants, maps, kind = _PROGRAMS[s]
        try:
            load = getattr(bcc.BPF, kind)
            fds = {f: [bpf.load_func(f"{p}{i}".encode(), load).fd for i in range(nifaces)] for f, p in variants.items()}
        except Exception as exc:
            bpf.cleanup()
            raise BptrafError(f"the kernel refused the {_KINDS[kind]} program: {exc}") from None
        out[s] = (fds, {role: bpf.get_table(name.encode()).map_fd for role, name in maps.items()})
    return bpf, out


def load_programs(bcc, action: str, nifaces: int, flows_max: int = FLOWS_MAX_DEFAULT):
    """load_sets() for one set: the bcc object, {feature set: program fds by slot}, {role: map fd}."""
    bpf, out = load_sets(bcc, (action,), nifaces, flows_max)
    return bpf, *out[action]


def open_files_needed(action: str, nifaces: int, also: tuple[str, ...] = ()) -> int:
    """Program fds, map fds and one link per interface and set, plus stdio, the loader's pipes and headroom."""
    sets = (action, *also)
    return sum(nifaces * (len(VARIANTS[s]) + 1) + len(MAP_ROLES[s]) for s in sets) + 16
