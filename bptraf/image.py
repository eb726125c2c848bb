"""Compiled programs as data, and their loading into the kernel without bcc.

bcc compiles in a short-lived child (bptraf/build.py), which turns what it compiled into an Image:
every entry point's instructions, where they name a map, and how to create each map. The Image is
bytes: it crosses back to bptraf over a pipe and is kept in the cache (bptraf/cache.py), so a run whose
sources, build flags, kernel and bcc match an earlier one skips the compiler altogether. bptraf then
creates the maps and loads only the programs it attaches, through libbpf; the rest on demand.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace

from bptraf import libbpf

FORMAT = 2  # bumped whenever the bytes below change meaning
_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW: the instruction that carries a map fd
_MAP_SOURCES = (1, 2)  # BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE
_CALL = 0x85
_INSN = 8


class ImageError(ValueError):
    """Bytes that are not an Image of this format."""


@dataclass(frozen=True)
class MapSpec:
    name: str
    type: int
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    btf_key: int = 0  # type ids in the Image's BTF (bpftool prints entries by them), 0: none
    btf_value: int = 0


@dataclass(frozen=True)
class ProgSpec:
    type: int  # enum bpf_prog_type
    insns: bytes
    relocs: tuple[tuple[int, int], ...]  # (instruction index, map index): where a map's fd goes


@dataclass(frozen=True)
class Image:
    license: str
    maps: tuple[MapSpec, ...]
    progs: dict[str, ProgSpec]  # by entry-point name
    btf: bytes = b""  # the types of the maps' keys and values, as the compiler described them

    def to_bytes(self) -> bytes:
        """A JSON header line (formats, sizes, relocations), then the BTF and every program's
        instructions, back to back."""
        offset, progs = len(self.btf), {}
        for name, p in self.progs.items():
            progs[name] = {"type": p.type, "offset": offset, "size": len(p.insns), "relocs": p.relocs}
            offset += len(p.insns)
        maps = [vars(m) for m in self.maps]
        head = {"format": FORMAT, "license": self.license, "btf": len(self.btf), "maps": maps, "progs": progs}
        return json.dumps(head).encode() + b"\n" + self.btf + b"".join(p.insns for p in self.progs.values())

    @classmethod
    def from_bytes(cls, data: bytes) -> Image:
        line, sep, blob = data.partition(b"\n")
        try:
            head = json.loads(line)
            if not sep or head.get("format") != FORMAT:
                raise ImageError("not an image of this format")
            maps = tuple(MapSpec(**m) for m in head["maps"])
            progs = {}
            for name, p in head["progs"].items():
                insns = blob[p["offset"] : p["offset"] + p["size"]]
                relocs = tuple((int(i), int(m)) for i, m in p["relocs"])
                fits = all(0 <= m < len(maps) and 0 <= i < p["size"] // _INSN - 1 for i, m in relocs)
                if len(insns) != p["size"] or p["size"] % _INSN or not fits:
                    raise ImageError(f"{name}: truncated or inconsistent")
                progs[name] = ProgSpec(int(p["type"]), insns, relocs)
            btf = blob[: head["btf"]]
            if len(btf) != head["btf"]:
                raise ImageError("truncated")
            return cls(str(head["license"]), maps, progs, btf)
        except (ValueError, KeyError, TypeError) as exc:
            raise ImageError(str(exc)) from None


def relocations(insns: bytes, map_index: dict[int, int]) -> tuple[tuple[int, int], ...]:
    """Where `insns` (as bcc loads them, map fds in place) name a map: (instruction, map index) pairs.
    `map_index` says which map each fd is. A call to another BPF function would need relocating too:
    refused, since the sources inline everything."""
    out = []
    for i in range(0, len(insns) // _INSN):
        code, regs, _off, imm = struct.unpack_from("<BBhi", insns, i * _INSN)
        src = regs >> 4
        if code == _LD_IMM64 and src in _MAP_SOURCES:
            if imm not in map_index:
                raise ImageError(f"instruction {i} names fd {imm}, which is no map of this program")
            out.append((i, map_index[imm]))
        elif code == _CALL and src != 0:
            raise ImageError(f"instruction {i} calls a BPF function or kfunc: not supported in an image")
    return tuple(out)


def patched(prog: ProgSpec, map_fds: list[int]) -> bytes:
    """The instructions with this process's map fds in place."""
    insns = bytearray(prog.insns)
    for i, m in prog.relocs:
        struct.pack_into("<i", insns, i * _INSN + 4, map_fds[m])
    return bytes(insns)


def image_of(bcc, bpf, entries: tuple[tuple[str, str], ...]) -> Image:
    """`entries` ((name, program type) pairs) as bcc object `bpf` compiled them, and every map of the object."""
    lib = bcc.libbcc.lib
    lib.bpf_table_name.restype = ctypes.c_char_p
    for fn in (lib.bpf_table_name, lib.bpf_table_fd_id, lib.bpf_table_key_size_id, lib.bpf_table_leaf_size_id):
        fn.argtypes = [ctypes.c_void_p, ctypes.c_ulonglong]
    lib.bpf_table_key_size_id.restype = lib.bpf_table_leaf_size_id.restype = ctypes.c_size_t
    maps, by_fd, btf_ids = [], {}, set()
    for i in range(lib.bpf_num_tables(bpf.module)):
        fd = lib.bpf_table_fd_id(bpf.module, i)
        by_fd[fd] = i
        btf_id, key, value = map_btf(fd)  # bcc types the maps with its own BTF, where the kernel takes it
        btf_ids.add(btf_id)
        maps.append(MapSpec(lib.bpf_table_name(bpf.module, i).decode(), lib.bpf_table_type_id(bpf.module, i),
                            lib.bpf_table_key_size_id(bpf.module, i), lib.bpf_table_leaf_size_id(bpf.module, i),
                            lib.bpf_table_max_entries_id(bpf.module, i), lib.bpf_table_flags_id(bpf.module, i),
                            key, value))  # fmt: skip
    btf = btf_data(btf_ids.pop()) if len(btf_ids) == 1 and 0 not in btf_ids else b""
    if not btf:  # none, or not one for all: the maps go untyped
        maps = [replace(m, btf_key=0, btf_value=0) for m in maps]
    progs = {}
    for name, kind in entries:
        insns = bpf.dump_func(name.encode())
        progs[name] = ProgSpec(getattr(bcc.BPF, kind), insns, relocations(insns, by_fd))
    return Image(lib.bpf_module_license(bpf.module).decode(), tuple(maps), progs, btf)


# -- the kernel side (libbpf) ---------------------------------------------------------------------


class _MapCreateOpts(ctypes.Structure):
    # The leading fields of libbpf's struct bpf_map_create_opts (the rest read as zero).
    _fields_ = [("sz", ctypes.c_size_t)] + [
        (name, ctypes.c_uint32)
        for name in (
            "btf_fd",
            "btf_key_type_id",
            "btf_value_type_id",
            "btf_vmlinux_value_type_id",
            "inner_map_fd",
            "map_flags",
        )  # fmt: skip
    ]


class _ProgLoadOpts(ctypes.Structure):
    # libbpf 1.1's struct bpf_prog_load_opts up to log_buf.
    _fields_ = [("sz", ctypes.c_size_t), ("attempts", ctypes.c_int)] + [
        (name, ctypes.c_uint32)
        for name in ("expected_attach_type", "prog_btf_fd", "prog_flags", "prog_ifindex", "kern_version",
                     "attach_btf_id", "attach_prog_fd", "attach_btf_obj_fd")  # fmt: skip
    ] + [
        ("fd_array", ctypes.c_void_p), ("func_info", ctypes.c_void_p), ("func_info_cnt", ctypes.c_uint32),
        ("func_info_rec_size", ctypes.c_uint32), ("line_info", ctypes.c_void_p), ("line_info_cnt", ctypes.c_uint32),
        ("line_info_rec_size", ctypes.c_uint32), ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
        ("log_buf", ctypes.c_void_p),
    ]  # fmt: skip


_LOG_SIZE = 1 << 20  # verifier log kept from a refused program, for its last lines


def create_map(spec: MapSpec, btf_fd: int = -1) -> int:
    """A new map as `spec` says (its key and value typed by the BTF `btf_fd`, if one); its fd."""
    so = libbpf.lib()
    so.bpf_map_create.argtypes = [ctypes.c_int, ctypes.c_char_p] + [ctypes.c_uint32] * 3 + [ctypes.c_void_p]
    opts = _MapCreateOpts(sz=ctypes.sizeof(_MapCreateOpts), map_flags=spec.flags)
    if btf_fd >= 0 and spec.btf_value:
        opts.btf_fd, opts.btf_key_type_id, opts.btf_value_type_id = btf_fd, spec.btf_key, spec.btf_value
    name = spec.name[:15].encode()  # BPF_OBJ_NAME_LEN, as bcc names them
    fd = so.bpf_map_create(spec.type, name, spec.key_size, spec.value_size, spec.max_entries, ctypes.byref(opts))
    code = libbpf._errno(fd)
    if code:
        raise OSError(code, os.strerror(code))
    return fd


def load_prog(name: str, prog: ProgSpec, license: str, map_fds: list[int]) -> int:
    """Load one program (the verifier runs here); its fd. A refusal raises OSError whose text ends
    with the verifier's last words."""
    so = libbpf.lib()
    so.bpf_prog_load.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.c_void_p]  # fmt: skip
    insns = patched(prog, map_fds)
    log = ctypes.create_string_buffer(_LOG_SIZE)
    # log_level 0 with a buffer: libbpf asks the kernel again, with the log, only if the load fails.
    opts = _ProgLoadOpts(sz=ctypes.sizeof(_ProgLoadOpts), log_size=_LOG_SIZE, log_buf=ctypes.addressof(log))
    fd = so.bpf_prog_load(prog.type, name[:15].encode(), license.encode(), insns, len(insns) // _INSN,
                          ctypes.byref(opts))  # fmt: skip
    code = libbpf._errno(fd)
    if code:
        said = [line for line in log.value.decode(errors="replace").splitlines() if line.strip()]
        raise OSError(code, os.strerror(code) + (f" ({said[-1].strip()})" if said else ""))
    return fd


def load_btf(data: bytes) -> int:
    """The fd of `data` loaded as BTF."""
    so = libbpf.lib()
    so.bpf_btf_load.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
    fd = so.bpf_btf_load(data, len(data), None)
    code = libbpf._errno(fd)
    if code:
        raise OSError(code, os.strerror(code))
    return fd


def _info(fd: int, size: int, fill: Callable[[ctypes.Array], None] = lambda _b: None) -> ctypes.Array:
    so = libbpf.lib()
    so.bpf_obj_get_info_by_fd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    buf = ctypes.create_string_buffer(size)
    fill(buf)
    n = ctypes.c_uint32(size)
    libbpf._check(so.bpf_obj_get_info_by_fd(fd, buf, ctypes.byref(n)), "object info")
    return buf


def map_btf(map_fd: int) -> tuple[int, int, int]:
    """(BTF id, key type id, value type id) of a map, from the kernel's bpf_map_info; zeros without BTF."""
    return struct.unpack_from("<III", _info(map_fd, 88), 64)


def btf_data(btf_id: int) -> bytes:
    """The raw BTF the kernel holds as `btf_id` (bpf_btf_info: a buffer, its size)."""
    so = libbpf.lib()
    fd = libbpf._check(so.bpf_btf_get_fd_by_id(ctypes.c_uint32(btf_id)), "BTF by id")
    try:
        size = struct.unpack_from("<I", _info(fd, 32), 8)[0]
        data = ctypes.create_string_buffer(size)
        _info(fd, 32, lambda b: struct.pack_into("<QI", b, 0, ctypes.addressof(data), size))
        return data.raw
    finally:
        os.close(fd)
