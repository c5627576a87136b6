"""The build cache: one digest of every input that shapes an output, and the stamps that record it.

Generated folders (BUILD/hls, BUILD/rtl) record what they were made from in a stamp
(:data:`STAMP`): the IR's content (:func:`ir_digest`), the generator (:func:`generator_digest`:
every module of unetaccel.codegen and every template file) and the options (lanes, part,
clock, IR file name; the RTL's multiplier style). Compiled builds (the csim binaries, the RTL simulators' builds) are keyed by
:func:`digest` of their source files, flags and the tools' versions (:func:`tool_version`),
so a build is reused exactly while all of them are unchanged; each simulator configuration
has its own folder (:func:`sim_build_dir`: one folder per simulator, then one per digest), so
switching back to a configuration rebuilds nothing. Processes that share a
build folder (two terminals, pytest-xdist workers) take turns on it (:func:`locked`).
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
from filelock import FileLock

from ..ir.graph import IR
from .render import TEMPLATE_DIR
from .writer import write_files

CODEGEN_DIR = Path(__file__).parent
STAMP = ".generated.json"  # what generate_hls / generate_rtl made a folder from


_LOCKS: dict[str, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


@contextmanager
def locked(folder):
    """Hold `folder`'s lock (the file `<folder>.lock` beside it) while generating, building or
    running in it, so that processes sharing a build folder take turns: one never rewrites the
    .mem files or the csim data another is reading. Reentrant within a process."""
    folder = Path(folder).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    key = str(folder) + ".lock"
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, FileLock(key))
    with lock:
        yield folder


def digest(*parts) -> str:
    """Hash of the parts in order: str and bytes as they are, a Path as its name and content
    (a missing file hashes as missing), numbers by their repr; 16 hex digits."""
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Path):
            h.update(f"file {p.name}\0".encode())
            h.update(p.read_bytes() if p.is_file() else b"<missing>")
        elif isinstance(p, bytes):
            h.update(b"bytes\0" + p)
        else:
            h.update(f"{type(p).__name__} {p!r}".encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def ir_digest(ir: IR) -> str:
    """Content hash of an IR (its description and every array)."""
    h = hashlib.sha256(json.dumps(ir.to_json(), sort_keys=True, default=str).encode())
    for k in sorted(ir.arrays):
        a = np.ascontiguousarray(ir.arrays[k])
        h.update(f"{k} {a.dtype.str} {a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def generator_sources() -> list[Path]:
    """Every file the generated text depends on besides the IR and the options: each module of
    unetaccel.codegen (the emitters, layout, regmap, render, ...) and each template file."""
    return sorted(CODEGEN_DIR.glob("*.py")) + sorted(p for p in TEMPLATE_DIR.rglob("*") if p.is_file())


def generator_digest() -> str:
    """Changes whenever any generator module or template changes (or is added, removed or renamed)."""
    h = hashlib.sha256()
    for f in generator_sources():
        name = f.relative_to(CODEGEN_DIR).as_posix() if f.is_relative_to(CODEGEN_DIR) else f.name
        h.update(f"{name}\0".encode())
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def generation_record(ir: IR, **options) -> dict:
    """What a generated folder is made from: the IR, the generator and the options (JSON values),
    with `digest`, the key of the whole configuration."""
    rec = {"ir": ir_digest(ir), "generator": generator_digest(), **options}
    rec["digest"] = digest(json.dumps(rec, sort_keys=True))
    return rec


def write_stamp(out_dir, record: dict) -> Path:
    """Record in out_dir what it was generated from (rewritten only when it changed)."""
    return write_files(out_dir, {STAMP: json.dumps(record, indent=1) + "\n"})[0]


def read_stamp(out_dir) -> dict | None:
    """The record out_dir was generated from (lanes as a tuple), or None when there is no readable stamp."""
    try:
        d = json.loads((Path(out_dir) / STAMP).read_text())
        d["lanes"] = tuple(int(v) for v in d["lanes"])
        return d
    except (OSError, ValueError, KeyError, TypeError):
        return None


def stale_reason(stamp: dict | None, want: dict) -> str | None:
    """Why a folder with this stamp is not what `want` (a subset of a generation record) asks
    for, in words; None when every key of `want` matches."""
    if stamp is None:
        return "nothing generated there yet"
    for key, value in want.items():
        have = stamp.get(key)
        if key == "lanes" and have is not None and tuple(have) == tuple(value):
            continue
        if have == value:
            continue
        if key == "ir":
            return "it was generated from another IR"
        if key in ("generator", "digest"):
            return "the generator changed since"
        if key == "lanes":
            return f"lanes {value[0]}x{value[1]} asked, it has " + (f"{have[0]}x{have[1]}" if have else "none")
        if key == "mult":
            return f"multipliers {value} asked, it has {have or 'none recorded'}"
        return f"{key} {value!r} asked, it has {have!r}"
    return None


def sim_build_dir(root, simulator: str, *parts) -> Path:
    """The build folder of one RTL simulator configuration: root/<simulator>/<digest of the
    simulator's name and `parts`> (sources, toplevel, flags, versions, ...)."""
    return Path(root) / simulator / digest(simulator, *parts)


@lru_cache(maxsize=None)
def tool_version(program: str, flag: str = "--version") -> str:
    """`program --version` (or another flag that prints it; its output, stripped): part of the
    key of what the program builds."""
    r = subprocess.run([program, flag], capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()
