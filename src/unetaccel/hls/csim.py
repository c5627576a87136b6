"""C simulation: build the generated HLS project with g++ and compare every layer with the reference.

`unetaccel csim --ir RUN/model.json --images N [--build BUILD]` calls :func:`main`.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen.hls_project import generate_hls, trace_order
from ..ir.data import load_val
from ..tools import ap_types_include, cxx

MODES = ("native", "ap")
CXXFLAGS = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror"]
# hls4ml's ap_private.h trips g++ 12's uninitialized warnings: silenced in the ap_int mode only
AP_FLAGS = ["-Wno-uninitialized", "-Wno-maybe-uninitialized", "-DUNET_AP_TYPES"]
SOURCES = ["tb_unet.cpp", "unet_top.cpp", "unet_weights.cpp"]


class CsimError(RuntimeError):
    pass


def ir_digest(ir_path) -> str:
    p = Path(ir_path).with_suffix(".json")
    h = hashlib.sha256(p.read_bytes())
    h.update(p.with_suffix(".npz").read_bytes())
    return h.hexdigest()[:16]


def templates_digest() -> str:
    """Changes whenever the generator or its templates change (no stale generated files)."""
    from ..codegen import hls_project
    from ..codegen.render import TEMPLATE_DIR
    h = hashlib.sha256(Path(hls_project.__file__).read_bytes())
    for f in sorted((TEMPLATE_DIR / "hls_project").glob("*.j2")):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def ensure_project(ir_path, build_dir, lanes=(8, 8), log=print) -> tuple[irmod.IR, Path]:
    """BUILD/hls for this IR, (re)generated when missing or made from another IR."""
    net = irmod.load(ir_path)
    out = Path(build_dir).resolve() / "hls"  # absolute: the tools run with their own working folder
    stamp = out / ".ir_digest"
    digest = f"{ir_digest(ir_path)} {lanes[0]}x{lanes[1]} {templates_digest()}"
    if not stamp.exists() or stamp.read_text() != digest:
        log(f"generating {out} from {ir_path}")
        generate_hls(net, out, lanes=lanes, ir_file=Path(ir_path).name)
        stamp.write_text(digest)
    return net, out


def compile_tb(project: Path, mode: str, log=print) -> Path:
    """g++ the testbench in one type mode; reuses the binary while the sources are unchanged."""
    exe = project / f"tb_{mode}"
    flags = CXXFLAGS + ["-DUNET_TRACE", "-I."]
    if mode == "ap":
        flags = CXXFLAGS + AP_FLAGS + ["-DUNET_TRACE", "-isystem", str(ap_types_include()), "-I."]
    elif mode != "native":
        raise CsimError(f"unknown type mode {mode!r} (native or ap)")
    key = hashlib.sha256(" ".join(flags).encode())
    for f in sorted(project.glob("*.h")) + [project / s for s in SOURCES]:
        key.update(f.read_bytes())
    stamp = project / f".tb_{mode}.key"
    if exe.exists() and stamp.exists() and stamp.read_text() == key.hexdigest():
        return exe
    cmd = [cxx(), *flags, *SOURCES, "-o", exe.name]
    log(f"compiling ({mode}): {' '.join(cmd)}")
    t = time.time()
    r = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    if r.returncode != 0:
        raise CsimError(f"g++ failed in {project} ({mode} types):\n{r.stderr[-4000:]}")
    log(f"compiled in {time.time() - t:.1f} s")
    stamp.write_text(key.hexdigest())
    return exe


def write_data(net, project: Path, images: np.ndarray) -> Path:
    """data/img_<i>.bin (uint8 C x H x W) and data/ref_<i>.bin (int64 tensors in trace order)."""
    data = project / "data"
    data.mkdir(exist_ok=True)
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


def run_tb(exe: Path, project: Path, n: int, logits: bool = False, mode: str = "native") -> Report:
    t = time.time()
    args = [str(Path(exe).resolve()), "data", str(n)] + (["logits"] if logits else [])
    r = subprocess.run(args, cwd=project, capture_output=True, text=True)
    rep = Report(mode, n, seconds=time.time() - t, lines=r.stdout.splitlines())
    if r.returncode not in (0, 1) or "csim mismatches:" not in r.stdout:
        raise CsimError(f"{exe.name} failed (exit {r.returncode}): {r.stderr.strip()[-2000:]}")
    for line in rep.lines:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "TENSOR":
            name = parts[1]
            ent = rep.tensors.setdefault(name, [0, 0, ""])
            if parts[2] == "equal":
                ent[0] += int(parts[3])
            else:
                ent[1] += int(parts[3]) if parts[3].isdigit() else 1
                ent[2] = ent[2] or line
        elif parts[0] == "STREAM":
            ent = rep.tensors.setdefault("<output stream>", [0, 0, ""])
            if parts[1] == "equal":
                ent[0] += int(parts[2])
            else:
                ent[1] += 1
                ent[2] = ent[2] or line
        elif line.startswith("csim mismatches:"):
            rep.mismatches = int(parts[-1])
    return rep


def run(ir_path, build_dir="build", images=8, modes=MODES, lanes=(8, 8), logits=False, random_images=False,
        seed=0, log=print) -> list[Report]:
    net, project = ensure_project(ir_path, build_dir, lanes, log)
    if random_images:
        print(f"random images, seed {seed}")
        imgs = np.random.default_rng(seed).integers(0, 256, (images, net.in_channels, *net.size), dtype=np.uint8)
    else:
        imgs, _ = load_val(ir_path, net, images)
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


def main(ir_path, build_dir="build", images=8, modes=MODES, lanes=(8, 8), logits=False, random_images=False,
         seed=0) -> int:
    """The `unetaccel csim` command: prints the per-layer report and `mismatches: N`; returns the exit code."""
    reports = run(ir_path, build_dir, images, modes, lanes, logits, random_images, seed)
    total = print_report(reports)
    print(f"mismatches: {total}")
    return 1 if total else 0
