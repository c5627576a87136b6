"""C simulation: build the generated HLS project with g++ and compare every layer with the reference.

`unetaccel csim --ir RUN/model.json --images N [--build BUILD]` calls :func:`main`.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen.cache import digest, generator_digest, ir_digest, locked, read_stamp, stale_reason, tool_version
from ..codegen.hls_project import DEFAULT_CLOCK_NS, DEFAULT_LANES, DEFAULT_PART, generate_hls, trace_order
from ..ir.data import input_images
from ..errors import UnetaccelError
from ..tools import ap_types_include, cxx, failed, log_file, write_log

MODES = ("native", "ap")
CXXFLAGS = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror"]
# hls4ml's ap_private.h trips g++ 12's uninitialized warnings: silenced in the ap_int mode only
AP_FLAGS = ["-Wno-uninitialized", "-Wno-maybe-uninitialized", "-DUNET_AP_TYPES"]
SOURCES = ["tb_unet.cpp", "unet_top.cpp", "unet_weights.cpp"]


class CsimError(UnetaccelError, RuntimeError):
    """The C simulation cannot run: no project, a compiler error, a failing testbench."""


def ensure_project(ir_path, build_dir, lanes=None, log=print) -> tuple[irmod.IR, Path]:
    """BUILD/hls for this IR. A project that `generate` (or an earlier csim) made from the same IR
    with the current generator is reused as it is (with its lanes, part and clock, and any edits
    made to it); it is regenerated when missing, made from another IR or by another generator
    version (any codegen module or template changed: codegen.cache), or when `lanes` asks for
    other lanes. Regenerating keeps the recorded part and clock."""
    net = irmod.load(ir_path)
    out = Path(build_dir).resolve() / "hls"  # absolute: the tools run with their own working folder
    stamp = read_stamp(out)
    want_lanes = tuple(int(v) for v in lanes) if lanes else None
    want = {"ir": ir_digest(net), "generator": generator_digest(), **({"lanes": want_lanes} if want_lanes else {})}
    why = stale_reason(stamp, want)
    if why is None:
        return net, out
    keep = stamp or {}
    new_lanes = want_lanes or keep.get("lanes") or DEFAULT_LANES
    part, clock = keep.get("part", DEFAULT_PART), keep.get("clock_ns", DEFAULT_CLOCK_NS)
    log(f"generating {out} from {ir_path} ({why}): lanes {new_lanes[0]}x{new_lanes[1]}, part {part}, clock {clock} ns")
    generate_hls(net, out, lanes=new_lanes, part=part, clock_ns=clock, ir_file=Path(ir_path).name)
    return net, out


def compile_tb(project: Path, mode: str, log=print) -> Path:
    """g++ the testbench in one type mode into project/tb_<mode>; reuses the binary while its key
    (the project's sources, the flags and the compiler's version) is unchanged."""
    exe = project / f"tb_{mode}"
    flags = CXXFLAGS + ["-DUNET_TRACE", "-I."]
    if mode == "ap":
        flags = CXXFLAGS + AP_FLAGS + ["-DUNET_TRACE", "-isystem", str(ap_types_include()), "-I."]
    elif mode != "native":
        raise CsimError(f"unknown type mode {mode!r} (native or ap)")
    compiler = cxx()
    key = digest(compiler, tool_version(compiler), *flags, *sorted(project.glob("*.h")),
                 *[project / s for s in SOURCES])
    stamp = project / f".tb_{mode}.key"
    if exe.exists() and stamp.exists() and stamp.read_text() == key:
        return exe
    cmd = [compiler, *flags, *SOURCES, "-o", exe.name]
    log(f"compiling ({mode}): {' '.join(cmd)}")
    t = time.time()
    r = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    logf = write_log(log_file(project.parent, f"gcc-csim-{mode}"), " ".join(cmd) + "\n" + r.stdout + r.stderr)
    if r.returncode != 0:
        raise CsimError(failed(f"g++ failed in {project} ({mode} types)", logf))
    log(f"compiled in {time.time() - t:.1f} s")
    stamp.write_text(key)
    return exe


def write_data(net, project: Path, images: np.ndarray) -> Path:
    """data/img_<i>.bin (uint8 C x H x W) and data/ref_<i>.bin (int64 tensors in trace order)."""
    data = project / "data"
    data.mkdir(exist_ok=True)
    for old in list(data.glob("img_*.bin")) + list(data.glob("ref_*.bin")):
        old.unlink()  # run_hls.tcl runs as many images as data/ holds: only this run's
    names = trace_order(project)
    ref = irmod.reference.run(net, images, trace=True, layout="nchw")
    tr = dict(ref.trace)
    tr[net.classes] = ref.classes[:, None]
    for i in range(len(images)):
        (data / f"img_{i}.bin").write_bytes(np.ascontiguousarray(images[i], dtype=np.uint8).tobytes())
        blob = np.concatenate([tr[n][i].astype("<i8").ravel() for n in names])
        (data / f"ref_{i}.bin").write_bytes(blob.tobytes())
    return data


@dataclass
class Report:
    mode: str
    images: int
    mismatches: int = 0
    tensors: dict = field(default_factory=dict)  # name -> [values compared, mismatches, first message]
    seconds: float = 0.0
    lines: list = field(default_factory=list)


STREAM_ENTRY = {"result": "<output stream>", "input": "<input stream>"}  # the others: protocol runs


def run_tb(exe: Path, project: Path, n: int, logits: bool = False, mode: str = "native",
           protocol: bool = True) -> Report:
    """Run the compiled testbench on data/ (n images; with protocol, first the rejected and
    aborted runs) and gather its per-check lines: TENSOR (every layer), STREAM (the output
    stream, and the protocol runs' zero frames), REG (the read-back registers), PROTOCOL."""
    t = time.time()
    args = [str(Path(exe).resolve()), "data", str(n)] + (["logits"] if logits else []) + \
        (["protocol"] if protocol else [])
    r = subprocess.run(args, cwd=project, capture_output=True, text=True)
    rep = Report(mode, n, seconds=time.time() - t, lines=r.stdout.splitlines())
    logf = write_log(log_file(project.parent, f"csim-{mode}"), r.stdout + r.stderr)
    if r.returncode not in (0, 1) or "csim mismatches:" not in r.stdout:
        raise CsimError(failed(f"{exe.name} failed (exit {r.returncode})", logf))
    for line in rep.lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        if parts[0] == "TENSOR":
            name, verdict, count = parts[1], parts[2], parts[3] if len(parts) > 3 else ""
        elif parts[0] in ("STREAM", "REG", "PROTOCOL"):
            name = {"STREAM": STREAM_ENTRY.get(parts[1], "<protocol>"), "REG": "<registers>",
                    "PROTOCOL": "<protocol>"}[parts[0]]
            verdict, count = parts[2].rstrip(":"), parts[3] if len(parts) > 3 else "1"
            if parts[0] == "PROTOCOL":
                count = "1"
        elif line.startswith("csim mismatches:"):
            rep.mismatches = int(parts[-1])
            continue
        else:
            continue
        ent = rep.tensors.setdefault(name, [0, 0, ""])
        if verdict in ("equal", "ok"):
            ent[0] += int(count) if count.isdigit() else 1
        else:
            ent[1] += int(count) if parts[0] == "TENSOR" and count.isdigit() else 1
            ent[2] = ent[2] or line
    return rep


def run(ir_path, build_dir="build", images=8, modes=MODES, lanes=None, logits=False, random_images=False,
        seed=0, log=print) -> list[Report]:
    """Generate (if needed), compile and run the C simulation; holds BUILD/hls's lock throughout
    (its data/ folder holds this run's images). `images`: a count (the first of RUN/val.npz, or
    random ones with `random_images`) or the images themselves, uint8 N x C x H x W."""
    with locked(Path(build_dir) / "hls"):
        return _run(ir_path, build_dir, images, modes, lanes, logits, random_images, seed, log)


def _run(ir_path, build_dir, images, modes, lanes, logits, random_images, seed, log) -> list[Report]:
    net, project = ensure_project(ir_path, build_dir, lanes, log)
    if isinstance(images, np.ndarray):
        want = (net.in_channels, *net.size)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != want:
            raise CsimError(f"images {images.dtype}{list(images.shape)}: expected uint8 [N, {', '.join(map(str, want))}]")
        imgs = images
    else:
        imgs = input_images(ir_path, net, images, random_images, seed)
    write_data(net, project, imgs)
    reports = []
    for mode in modes:
        exe = compile_tb(project, mode, log)
        reports.append(run_tb(exe, project, len(imgs), logits, mode))
    return reports


def print_report(reports: list[Report], out=sys.stdout) -> int:
    total = 0
    for rep in reports:
        print(f"== csim, {rep.mode} types, {rep.images} images, {rep.seconds:.2f} s "
              f"({1000 * rep.seconds / max(rep.images, 1):.1f} ms/image)", file=out)
        for name, (ok, bad, first) in rep.tensors.items():
            if bad:
                print(f"  {name:28s} MISMATCH {bad}: {first}", file=out)
            else:
                print(f"  {name:28s} equal ({ok} values)", file=out)
        total += rep.mismatches
    return total


def main(ir_path, build_dir="build", images=8, modes=MODES, lanes=None, logits=False, random_images=False,
         seed=0) -> int:
    """The `unetaccel csim` command: prints the per-layer report and `mismatches: N`; returns the exit code."""
    reports = run(ir_path, build_dir, images, modes, lanes, logits, random_images, seed)
    total = print_report(reports)
    print(f"mismatches: {total}")
    return 1 if total else 0
