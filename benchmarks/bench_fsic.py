"""Seconds per image through the real FSIC RTL: the subsystem (Icarus, four-state, and Verilator
--timing) and the whole Caravel chip with our firmware on its management core (Icarus), each
image compared bit for bit with the reference.

    .venv/bin/python benchmarks/bench_fsic.py --ir RUN/model.json [--images 2] [--chip-images 1]
        [--levels subsystem-icarus,subsystem-verilator,chip] [--build BUILD]

RUN is a trained run (`unetaccel demo` or train + quantize): its validation images (RUN/val.npz)
go through; without --ir a random-weight default-size network and random images. Needs
FSIC_FPGA_ROOT (a checkout of bol-edu/fsic_fpga). Prints a table (level, image, match, cycles
the accelerator counted, cycles read over the bus or reported by the firmware, seconds) and
writes benchmarks/results/fsic.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from unetaccel import ir as irmod
from unetaccel.fsic import system
from unetaccel.ir import randnet
from unetaccel.ir.data import load_val

LEVELS = ("subsystem-icarus", "subsystem-verilator", "chip")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ir", default=None, help="RUN/model.json (default: a random default-size network)")
    ap.add_argument("--images", type=int, default=2, help="images at the subsystem level")
    ap.add_argument("--chip-images", type=int, default=1, help="images at the chip level")
    ap.add_argument("--levels", default=",".join(LEVELS))
    ap.add_argument("--build", default=None, help="build folder (default: a temporary one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "fsic.json"))
    a = ap.parse_args(argv)
    levels = [x.strip() for x in a.levels.split(",") if x.strip()]
    for lv in levels:
        if lv not in LEVELS:
            ap.error(f"--levels: {lv!r} is not one of {', '.join(LEVELS)}")
    tmp = tempfile.TemporaryDirectory(prefix="unetaccel_bench_fsic_")
    build = Path(a.build or tmp.name) / "build"
    if a.ir:
        ir_path = Path(a.ir)
        net = irmod.load(ir_path)
        imgs, _ = load_val(ir_path, net, max(a.images, a.chip_images))
        what = f"{ir_path} (validation images)"
    else:
        ir_path = irmod.save(randnet.random_unet(seed=a.seed), Path(tmp.name) / "run" / "model")
        net = irmod.load(ir_path)
        imgs = np.random.default_rng(a.seed).integers(0, 256, (max(a.images, a.chip_images), net.in_channels,
                                                               *net.size), dtype=np.uint8)
        what = f"random-weight default-size network, random images (seed {a.seed})"
    print(f"network: {what}; FSIC: {system.fsic_root()}", flush=True)
    rows = []
    for lv in levels:
        t0 = time.perf_counter()
        if lv.startswith("subsystem"):
            runner = system.Subsystem(ir_path, build, simulator=lv.split("-")[1], log=lambda *x: None)
            built = time.perf_counter() - t0
            res = runner.network(imgs[:a.images], log=lambda *x: None)
        else:
            runner = system.Chip(ir_path, build, images=a.chip_images, log=lambda *x: None)
            built = time.perf_counter() - t0
            res = runner.network(imgs[:a.chip_images], log=lambda *x: None)
        for r in res:
            rows.append({"level": lv, "image": r["index"], "match": r["mismatches"] == 0,
                         "mismatches": r["mismatches"], "rtl_cycles": r["rtl_cycles"], "cycles_read": r["cycles"],
                         "status": r.get("status", ""), "seconds": round(r["seconds"], 1),
                         "build_seconds": round(built, 1)})
            print(f"{lv:20s} image {r['index']}: {'match' if r['mismatches'] == 0 else 'MISMATCH'}, "
                  f"{r['seconds']:.1f} s", flush=True)
    print()
    print(f"{'level':20s} {'image':>5s} {'match':>6s} {'rtl cycles':>11s} {'cycles read':>12s} {'s/image':>8s} "
          f"{'build s':>8s}")
    for r in rows:
        print(f"{r['level']:20s} {r['image']:5d} {str(r['match']):>6s} {r['rtl_cycles']:11,d} {r['cycles_read']:12,d} "
              f"{r['seconds']:8.1f} {r['build_seconds']:8.1f}")
    print(f"\ncommand: {' '.join(['.venv/bin/python', 'benchmarks/bench_fsic.py', *sys.argv[1:]])}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"network": what, "rows": rows}, indent=1) + "\n")
    return 0 if all(r["match"] and r["rtl_cycles"] == r["cycles_read"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
