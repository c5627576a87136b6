"""The emitters, the one writer and the one build cache (no compiler, no simulator).

The cache's digest covers every input that shapes a generated file: the IR's arrays, every
module of unetaccel.codegen, every template, the lanes and the other options. The stale-RTL
finding of issue 10: editing codegen/layout.py (the planner and allocator the RTL uses) left
BUILD/rtl as it was; now ensure_rtl regenerates.
"""
import dataclasses
import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.codegen import cache, generate, hls_project, rtl_project
from unetaccel.codegen.hls_project import emit_hls, generate_hls
from unetaccel.codegen.rtl_project import emit_rtl, generate_rtl
from unetaccel.codegen.writer import write_files
from unetaccel.ir import randnet
from unetaccel.rtl_sim.runner import ensure_rtl

SEED = 31
CODEGEN = Path(cache.__file__).parent


def _net(seed=SEED):
    print("seed", seed)
    return randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=seed)


def _age(paths, seconds=1000):
    """Set the files' modification times into the past, so a rewrite shows."""
    for p in paths:
        t = p.stat().st_mtime - seconds
        os.utime(p, (t, t))
    return {p: p.stat().st_mtime for p in paths}


def test_writer_rewrites_only_changed_files(tmp_path):
    files = {"a.txt": "one\n", "sub/dir/b.v": "two\n"}
    paths = write_files(tmp_path / "out", files)
    assert paths == [tmp_path / "out" / "a.txt", tmp_path / "out" / "sub" / "dir" / "b.v"]
    assert [p.read_text() for p in paths] == ["one\n", "two\n"]
    before = _age(paths)
    write_files(tmp_path / "out", {"a.txt": "one\n", "sub/dir/b.v": "changed\n"})
    assert paths[0].stat().st_mtime == before[paths[0]]  # same text: untouched
    assert paths[1].stat().st_mtime != before[paths[1]] and paths[1].read_text() == "changed\n"


@pytest.mark.parametrize("bad", ["/etc/passwd", "../outside.txt", "a/../../x", ""])
def test_writer_refuses_paths_outside_the_folder(tmp_path, bad):
    with pytest.raises(ValueError, match="inside the output folder"):
        write_files(tmp_path / "out", {bad: "x"})
    assert not (tmp_path / "outside.txt").exists()


def test_emitters_are_pure_and_generate_writes_what_they_emit(tmp_path, monkeypatch):
    """emit_* touch no file; generate_* = emit + the writer (+ the stamp): the same names and texts,
    and regenerating rewrites nothing."""
    net = _net()
    monkeypatch.chdir(tmp_path)
    hls, rtl = emit_hls(net, (4, 16), ir_file="m.json"), emit_rtl(net, (4, 16), ir_file="m.json")
    assert list(tmp_path.iterdir()) == []
    assert "unet_top.cpp" in hls and "trace.json" in hls and "unet_core.sv" in rtl and "layout.json" in rtl
    written = generate(net, tmp_path / "b", lanes=(4, 16), ir_file="m.json")
    for target, files in (("hls", hls), ("rtl", rtl)):
        d = tmp_path / "b" / target
        assert written[target] == [d / name for name in files]
        assert {p.name: p.read_text() for p in written[target]} == files
        assert sorted(p.name for p in d.iterdir()) == sorted([*files, cache.STAMP])
    before = _age(written["hls"] + written["rtl"])
    generate(net, tmp_path / "b", lanes=(4, 16), ir_file="m.json")
    assert {p: p.stat().st_mtime for p in before} == before


def _edited_copy(tmp_path, name: str) -> Path:
    """A copy of a generator source file with one byte more."""
    src = next(p for p in cache.generator_sources() if p.relative_to(CODEGEN).as_posix() == name)
    dst = tmp_path / "edited" / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes() + b"\n")
    return dst


def _use_instead(monkeypatch, original_name: str, copy: Path):
    sources = cache.generator_sources()
    new = [copy if p.relative_to(CODEGEN).as_posix() == original_name else p for p in sources]
    assert new != sources
    monkeypatch.setattr(cache, "generator_sources", lambda: new)


GENERATOR_FILES = sorted(p.relative_to(CODEGEN).as_posix() for p in cache.generator_sources())


def test_generator_sources_are_every_codegen_module_and_template():
    on_disk = {p.relative_to(CODEGEN).as_posix() for p in CODEGEN.glob("*.py")} | \
              {p.relative_to(CODEGEN).as_posix() for p in (CODEGEN / "templates").rglob("*") if p.is_file()}
    assert set(GENERATOR_FILES) == on_disk
    for must in ("layout.py", "regmap.py", "render.py", "hls_project.py", "rtl_project.py",
                 "templates/rtl_project/unet_regs.sv.j2", "templates/hls_project/unet_top.cpp.j2"):
        assert must in GENERATOR_FILES


@pytest.mark.parametrize("name", GENERATOR_FILES)
def test_digest_changes_with_any_generator_file(tmp_path, monkeypatch, name):
    net = _net()
    base = cache.generation_record(net, lanes=[8, 8], ir_file="model.json")
    _use_instead(monkeypatch, name, _edited_copy(tmp_path, name))
    edited = cache.generation_record(net, lanes=[8, 8], ir_file="model.json")
    assert edited["generator"] != base["generator"] and edited["digest"] != base["digest"]
    assert edited["ir"] == base["ir"]


def test_digest_changes_with_the_ir_arrays_and_the_options():
    net = _net()
    base = cache.generation_record(net, lanes=[8, 8], ir_file="model.json")
    assert cache.generation_record(_net(), lanes=[8, 8], ir_file="model.json") == base  # deterministic
    arrays = dict(net.arrays)
    key = sorted(arrays)[0]
    changed = np.array(arrays[key], copy=True)
    changed.flat[0] += 1
    arrays[key] = changed
    other = dataclasses.replace(net, arrays=arrays)
    rec = cache.generation_record(other, lanes=[8, 8], ir_file="model.json")
    assert rec["ir"] != base["ir"] and rec["digest"] != base["digest"] and rec["generator"] == base["generator"]
    for opts in ({"lanes": [4, 4], "ir_file": "model.json"}, {"lanes": [8, 8], "ir_file": "other.json"},
                 {"lanes": [8, 8], "ir_file": "model.json", "part": "xcku5p-ffvb676-2-e"}):
        assert cache.generation_record(net, **opts)["digest"] != base["digest"], opts


def _load_edited_layout(tmp_path, monkeypatch):
    """codegen/layout.py with the RTL placement's sharing rule edited (no two tensors ever share a
    word), loaded as a module of the package; returns (its path, the module)."""
    text = (CODEGEN / "layout.py").read_text()
    old = "if life[u][0] <= end and start <= life[u][1])"
    assert text.count(old) == 1, "the placement's lifetime test moved: update this test"
    path = tmp_path / "edited" / "layout.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace(old, "if True)"))
    spec = importlib.util.spec_from_file_location("unetaccel.codegen._layout_edited", path)
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return path, mod


def test_ensure_rtl_regenerates_when_the_layout_changes(tmp_path, monkeypatch):
    """The stale-RTL finding: BUILD/rtl is reused while nothing changed, and regenerated when
    codegen/layout.py (here: the placement's sharing of words) is edited; unchanged files stay untouched."""
    net = _net()
    p = irmod.save(net, tmp_path / "run" / "model")
    build = tmp_path / "build"
    logs = []
    _, rtl = ensure_rtl(p, build, (8, 8), log=logs.append)
    assert len(logs) == 1 and "generating" in logs[0]
    first = json.loads((rtl / "layout.json").read_text())
    before = _age([f for f in rtl.iterdir() if f.is_file()])
    logs.clear()
    ensure_rtl(p, build, (8, 8), log=logs.append)
    assert logs == []  # nothing changed: reused
    path, edited = _load_edited_layout(tmp_path, monkeypatch)
    monkeypatch.setattr(rtl_project, "place", edited.place)  # what a fresh import of the edit would do
    _use_instead(monkeypatch, "layout.py", path)
    ensure_rtl(p, build, (8, 8), log=logs.append)
    assert len(logs) == 1 and "the generator changed since" in logs[0], logs
    second = json.loads((rtl / "layout.json").read_text())
    assert second["act_depth_words"] > first["act_depth_words"]  # the edited placement
    assert (rtl / "unet_regs.sv").stat().st_mtime == before[rtl / "unet_regs.sv"]  # same text: not rewritten
    assert (rtl / "unet_core.sv").stat().st_mtime != before[rtl / "unet_core.sv"]


def test_ensure_rtl_regenerates_for_other_lanes_ir_or_generator(tmp_path, monkeypatch):
    net = _net()
    p = irmod.save(net, tmp_path / "run" / "model")
    build = tmp_path / "build"
    logs = []
    ensure_rtl(p, build, (8, 8), log=logs.append)
    ensure_rtl(p, build, (4, 4), log=logs.append)
    assert "lanes 4x4 asked, it has 8x8" in logs[-1]
    assert json.loads((build / "rtl" / "layout.json").read_text())["lanes"] == [4, 4]
    irmod.save(_net(SEED + 1), p)
    ensure_rtl(p, build, (4, 4), log=logs.append)
    assert "another IR" in logs[-1]
    n = len(logs)
    ensure_rtl(p, build, (4, 4), log=logs.append)
    assert len(logs) == n
    _use_instead(monkeypatch, "templates/rtl_project/unet_core.sv.j2",
                 _edited_copy(tmp_path, "templates/rtl_project/unet_core.sv.j2"))
    ensure_rtl(p, build, (4, 4), log=logs.append)
    assert len(logs) == n + 1 and "the generator changed since" in logs[-1]


def test_generate_records_what_it_was_made_from(tmp_path):
    net = _net()
    generate_hls(net, tmp_path / "hls", lanes=(4, 16), part="xcku5p-ffvb676-2-e", clock_ns=4.0)
    generate_rtl(net, tmp_path / "rtl", lanes=(4, 16))
    h, r = cache.read_stamp(tmp_path / "hls"), cache.read_stamp(tmp_path / "rtl")
    assert h["lanes"] == r["lanes"] == (4, 16) and h["part"] == "xcku5p-ffvb676-2-e" and h["clock_ns"] == 4.0
    assert h["ir"] == r["ir"] == cache.ir_digest(net) and h["generator"] == r["generator"] == cache.generator_digest()
    assert r["digest"] == cache.generation_record(net, ir_file="model.json", lanes=[4, 16], mult="dsp",
                                                 bus_errors="okay")["digest"]
    # a copied folder is as good as the original; a damaged stamp reads as none
    shutil.copytree(tmp_path / "rtl", tmp_path / "copy")
    assert cache.read_stamp(tmp_path / "copy") == r
    (tmp_path / "copy" / cache.STAMP).write_text("{")
    assert cache.read_stamp(tmp_path / "copy") is None
    assert hls_project.trace_order(tmp_path / "hls")


def test_a_build_folder_lock_makes_other_processes_wait(tmp_path):
    """While one process holds BUILD/rtl's lock (generating, building or simulating), another
    cannot take it; the holder can take it again (the public entry points nest)."""
    import subprocess
    import sys

    from unetaccel.codegen.cache import locked
    folder = tmp_path / "build" / "rtl"
    probe = ("import sys; from filelock import FileLock, Timeout\n"
             "try:\n    FileLock(sys.argv[1]).acquire(timeout=0.5)\nexcept Timeout:\n    print('waits')\n"
             "else:\n    print('took it')\n")
    with locked(folder):
        with locked(folder):  # reentrant
            out = subprocess.run([sys.executable, "-c", probe, str(folder) + ".lock"], capture_output=True,
                                 text=True, check=True).stdout
    assert out.strip() == "waits"
    out = subprocess.run([sys.executable, "-c", probe, str(folder) + ".lock"], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "took it"
