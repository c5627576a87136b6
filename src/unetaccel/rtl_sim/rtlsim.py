"""`unetaccel rtlsim`: run validation images through the generated RTL (cocotb + Verilator or Icarus)."""
from __future__ import annotations

import json
from pathlib import Path


from .. import ir as irmod
from ..codegen.cache import read_stamp
from ..ir.data import input_images
from .runner import WAVES, check_simulator, simulate


def generated_lanes(build_dir) -> tuple[int, int] | None:
    """The lanes BUILD/rtl was generated with (its layout.json), or None."""
    p = Path(build_dir) / "rtl" / "layout.json"
    try:
        return tuple(json.loads(p.read_text())["lanes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def generated_mult(build_dir) -> str | None:
    """The multiplier style BUILD/rtl was generated with (its stamp), or None."""
    stamp = read_stamp(Path(build_dir) / "rtl")
    return stamp.get("mult") if stamp else None


def main(ir_path, build_dir="build", lanes=None, images=1, waves=False, logits=False, random_images=False,
         seed=0, pause=False, simulator="verilator", mult=None) -> int:
    """Prints per image match/mismatch and `cycles: N`, then `mismatches: N`; returns the exit code.
    lanes None: the lanes BUILD/rtl was generated with, else 8x8; mult None: the multiplier style
    BUILD/rtl was generated with, else dsp. simulator: verilator or icarus."""
    check_simulator(simulator)
    net = irmod.load(ir_path)
    lanes = lanes or generated_lanes(build_dir) or (8, 8)
    mult = mult or generated_mult(build_dir) or "dsp"
    print(f"lanes: {lanes[0]}x{lanes[1]}, multipliers: {mult}, simulator: {simulator}")
    imgs = input_images(ir_path, net, images, random_images, seed)
    res = simulate(ir_path, imgs, build_dir, lanes, logits=logits, pause=pause, waves=waves,
                   log=lambda *a: print(*a, flush=True), simulator=simulator, mult=mult)
    total = 0
    for r in res["images"]:
        total += r["mismatches"]
        what = "match" if r["mismatches"] == 0 else (
            f"MISMATCH {r['mismatches']} bytes; first at byte {r['first']['byte']} (beat {r['first']['beat']}): "
            f"rtl {r['first']['rtl']}, reference {r['first']['reference']}")
        print(f"image {r['index']}: {what} ({'logits' if logits else 'class map'}, {r['bytes']} bytes)")
        print(f"cycles: {r['cycles']}")
    print(f"simulated {len(imgs)} image(s) in {res['seconds']:.1f} s")
    if waves:
        print(f"waveforms: {Path(build_dir) / 'rtl' / WAVES[simulator]}")
    print(f"mismatches: {total}")
    return 1 if total else 0
