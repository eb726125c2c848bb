"""Start-up: compiled programs as an Image, kept in the cache, and loaded only when used."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import pytest
from frames import eth, ipv4, udp
from runner import ROOT, wait_for

from bptraf import cache, image, loader
from bptraf.errors import BptrafError
from bptraf.image import Image, ImageError, MapSpec, ProgSpec
from bptraf.source import Feature

LD_MAP = bytes([0x18, 0x11, 0, 0])  # ld_imm64 r1, map fd (src_reg 1)
EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)
UDP = eth(0x0800, ipv4(17, udp(7000, 7001)))


def ld_map(fd: int) -> bytes:
    return LD_MAP + struct.pack("<i", fd) + bytes(8)


def small_image() -> Image:
    maps = (MapSpec("a", 2, 4, 8, 1, 0, 1, 2), MapSpec("b", 1, 16, 32, 64, 1))
    insns = ld_map(7) + ld_map(9) + EXIT
    return Image("GPL", maps, {"p0": ProgSpec(6, insns, ((0, 0), (2, 1))), "p1": ProgSpec(3, EXIT, ())}, b"btf")


# -- the Image, without the kernel -------------------------------------------------------------
def test_an_image_comes_back_from_its_bytes_as_it_was():
    img = small_image()
    assert Image.from_bytes(img.to_bytes()) == img


@pytest.mark.parametrize("damage", ["truncated", "format", "garbage", "map index", "instruction index"])
def test_bytes_that_are_no_image_of_this_format_are_refused(damage):
    data = small_image().to_bytes()
    head, _, blob = data.partition(b"\n")
    if damage == "truncated":
        data = data[:-4]
    elif damage == "format":
        data = head.replace(f'"format": {image.FORMAT}'.encode(), b'"format": 0') + b"\n" + blob
    elif damage == "garbage":
        data = b"\x00\x01not json\n" + blob
    elif damage == "map index":
        data = head.replace(b'"relocs": [[0, 0], [2, 1]]', b'"relocs": [[0, 0], [2, 5]]') + b"\n" + blob
    else:  # the last instruction cannot start a two-instruction load
        data = head.replace(b'"relocs": [[0, 0], [2, 1]]', b'"relocs": [[0, 0], [4, 1]]') + b"\n" + blob
    with pytest.raises(ImageError):
        Image.from_bytes(data)


def test_relocations_name_each_map_an_instruction_loads():
    assert image.relocations(ld_map(7) + EXIT + ld_map(9), {7: 0, 9: 1}) == ((0, 0), (3, 1))
    with pytest.raises(ImageError, match="fd 8"):
        image.relocations(ld_map(8), {7: 0})
    with pytest.raises(ImageError, match="calls a BPF function"):
        image.relocations(struct.pack("<BBhi", 0x85, 0x10, 0, 4), {})


def test_patched_puts_this_process_s_map_fds_in_place():
    prog = small_image().progs["p0"]
    out = image.patched(prog, [40, 41])
    assert out == ld_map(40) + ld_map(41) + EXIT
    assert prog.insns == ld_map(7) + ld_map(9) + EXIT  # the Image itself is unchanged


# -- the cache, without the kernel -------------------------------------------------------------
def test_the_cache_keeps_an_entry_and_gives_it_back(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    assert cache.get("k") is None
    cache.put("k", b"data")
    assert cache.get("k") == b"data"
    assert oct((tmp_path / "c").stat().st_mode & 0o777) == "0o700"


def test_an_empty_cache_directory_turns_the_cache_off(monkeypatch):
    monkeypatch.setenv(cache.ENV, "")
    assert cache.directory() is None
    cache.put("k", b"data")  # nowhere, and no error
    assert cache.get("k") is None


def test_a_cache_others_can_write_to_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    cache.put("k", b"data")
    os.chmod(tmp_path, 0o777)
    assert cache.get("k") is None
    os.chmod(tmp_path, 0o700)
    os.chmod(tmp_path / "k", 0o666)
    assert cache.get("k") is None


def test_the_cache_keeps_the_most_recent_entries(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    (tmp_path / ".new-killed").write_bytes(b"half")  # a write a killed run left
    os.utime(tmp_path / ".new-killed", (1, 1))
    for i in range(cache.KEEP + 3):
        cache.put(f"k{i}", b"x")
        os.utime(tmp_path / f"k{i}", (i + 2, i + 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"k{i}" for i in range(3, cache.KEEP + 3))


def test_the_key_changes_with_the_sources_and_the_build_flags(tmp_path, monkeypatch):
    src = tmp_path / "kernel"
    src.mkdir()
    (src / "count.c").write_text("int x;\n")
    monkeypatch.setattr(cache, "kernel_dir", lambda: src)
    one = loader.recipe(("pass",), 1, 16384)
    first = cache.key(one)
    assert cache.key(one) == first
    assert cache.key(loader.recipe(("pass",), 1, 4096)) != first
    assert cache.key(loader.recipe(("pass",), 2, 16384)) != first
    assert cache.key(loader.recipe(("pass", "egress"), 1, 16384)) != first
    (src / "count.c").write_text("int y;\n")
    assert cache.key(one) != first


def test_a_recipe_names_every_variant_for_every_slot():
    entries = dict(loader.recipe(("pass", "egress"), 2, 16384).entries)
    assert entries["bptraf_count_sizes_flows_1"] == "XDP" and entries["bptraf_egress_sizes_0"] == "SCHED_CLS"
    assert len(entries) == 2 * (len(loader.VARIANTS["pass"]) + len(loader.VARIANTS["egress"]))


# -- on the kernel ------------------------------------------------------------------------------
def _run(lab, cache_dir, shell: str = "") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "bptraf", lab.host, "--json", "-i", "0.1", "-c", "1"]
    if shell:
        cmd = ["sh", "-c", f'{shell}; exec "$@"', "sh", *cmd]
    env = {**os.environ, cache.ENV: str(cache_dir)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.bpf
def test_a_second_run_loads_what_the_first_compiled_without_the_compiler(lab, tmp_path):
    first = _run(lab, tmp_path / "c")
    assert first.returncode == 0, first.stderr
    assert len(list((tmp_path / "c").iterdir())) == 1
    # Too little address space for the compiler (tests/test_contract.py): only a cached run can start.
    second = _run(lab, tmp_path / "c", shell="ulimit -v 200000")
    assert (second.returncode, second.stderr) == (0, "")
    assert json.loads(second.stdout.splitlines()[0])["interface"] == lab.host
    assert not lab.xdp_attached()


def _source(lab, monkeypatch, tmp_path, features: Feature = Feature.NONE):
    from bptraf.bpf import BpfSource

    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    return BpfSource([lab.host], features=features)


def _counted(src) -> int:
    return src.read()[0].packets[0]


@pytest.mark.bpf
def test_only_the_programs_in_use_are_loaded_and_the_others_when_switched_on(lab, monkeypatch, tmp_path):
    with _source(lab, monkeypatch, tmp_path) as src:
        assert src._programs.loaded("pass") == (Feature.NONE,)
        assert image.map_btf(src._maps["flows4"])[2] != 0  # typed, so bpftool prints entries by field
        lab.send([UDP] * 3)
        assert wait_for(lambda: _counted(src) == 3)
        src.set_features(Feature.SIZES)
        assert src._programs.loaded("pass") == (Feature.NONE, Feature.SIZES)
        lab.send([UDP] * 2)
        assert wait_for(lambda: _counted(src) == 5)
        assert sum(src.read()[0].sizes) == 2
        src.set_features(Feature.NONE)  # back to programs already loaded: nothing more is
        assert src._programs.loaded("pass") == (Feature.NONE, Feature.SIZES)
    assert not lab.xdp_attached()


def _tamper(monkeypatch, tmp_path, prefix: str) -> None:
    """Cache an Image whose `prefix` programs the verifier refuses (they return without setting r0)."""
    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    wanted = loader.recipe(("pass",), 1, loader.FLOWS_MAX_DEFAULT)
    good = loader.image_for(wanted)
    progs = {n: ProgSpec(p.type, EXIT, ()) if n.startswith(prefix) else p for n, p in good.progs.items()}
    cache.put(cache.key(wanted), Image(good.license, good.maps, progs).to_bytes())


@pytest.mark.bpf
def test_a_program_refused_when_switched_on_leaves_the_running_one_counting(lab, monkeypatch, tmp_path):
    _tamper(monkeypatch, tmp_path, "bptraf_count_sizes_0")
    with _source(lab, monkeypatch, tmp_path) as src:
        lab.send([UDP] * 2)
        assert wait_for(lambda: _counted(src) == 2)
        with pytest.raises(BptrafError, match=r"^the kernel refused the XDP program bptraf_count_sizes_0: Permission"):
            src.set_features(Feature.SIZES)
        assert src.features == Feature.NONE
        lab.send([UDP] * 3)
        assert wait_for(lambda: _counted(src) == 5)
    assert not lab.xdp_attached()


@pytest.mark.bpf
def test_a_program_refused_at_start_leaves_nothing_attached(lab, monkeypatch, tmp_path):
    _tamper(monkeypatch, tmp_path, "bptraf_count_flows_0")
    src = _source(lab, monkeypatch, tmp_path, Feature.FLOWS)
    with pytest.raises(BptrafError, match="refused the XDP program bptraf_count_flows_0"):
        src.open()
    assert not lab.xdp_attached()
    assert src._programs is None


@pytest.mark.bpf
def test_a_damaged_cache_entry_is_compiled_afresh_and_replaced(lab, monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV, str(tmp_path / "c"))
    name = cache.key(loader.recipe(("pass",), 1, loader.FLOWS_MAX_DEFAULT))
    cache.put(name, b'{"format": 1}\nnothing')
    with _source(lab, monkeypatch, tmp_path) as src:
        lab.send([UDP] * 4)
        assert wait_for(lambda: _counted(src) == 4)
    assert Image.from_bytes(cache.get(name)).progs["bptraf_count_0"].insns
    assert not lab.xdp_attached()
