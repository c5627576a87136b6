"""`unetaccel fsicsim`: images through our USER_PRJ0 inside the real FSIC RTL, compared with the
reference; prints per image match/mismatch and cycles, then `mismatches: N`."""
from __future__ import annotations


from .. import ir as irmod
from ..ir.data import input_images
from ..rtl_sim.rtlsim import generated_lanes, generated_mult
from . import system

LEVELS = ("subsystem", "chip")


def main(ir_path, build_dir="build", images=1, level="subsystem", logits=False, waves=False, simulator="icarus",
         lanes=None, random_images=False, seed=0, wait_irq=False, log=print) -> int:
    if level not in LEVELS:
        raise system.FsicError(f"--level {level!r}: the levels are {' and '.join(LEVELS)}")
    system.check_simulator(simulator)
    if level == "chip" and simulator != "icarus":
        raise system.FsicError("--level chip runs under Icarus only: Caravel's pads and flash do not simulate under "
                               "Verilator (FSIC's own chip test times out there)")
    root = system.fsic_root()  # before anything is built: a missing checkout is bad input
    net = irmod.load(ir_path)
    lanes = lanes or generated_lanes(build_dir) or (8, 8)
    mult = generated_mult(build_dir) or "dsp"
    imgs = input_images(ir_path, net, images, random_images, seed, log)
    log(f"FSIC {level} level ({root}), lanes {lanes[0]}x{lanes[1]}, simulator {simulator}")
    if level == "subsystem":
        sub = system.Subsystem(ir_path, build_dir, lanes, log=log, root=root, simulator=simulator, mult=mult)
        res = sub.network(imgs, logits=logits, log=lambda *a: None, waves=waves)
    else:
        chip = system.Chip(ir_path, build_dir, lanes, images=len(imgs), logits=logits, wait_irq=wait_irq, log=log,
                           root=root, mult=mult)
        res = chip.network(imgs, log=lambda *a: None, waves=waves)
    total = 0
    for r in res:
        total += r["mismatches"]
        what = "match" if r["mismatches"] == 0 else f"MISMATCH {r['mismatches']} bytes; first {r['first']}"
        extra = f", firmware status {r['status']}" if "status" in r else ""
        log(f"image {r['index']}: {what} ({'logits' if logits else 'class map'}, {r['bytes']} bytes{extra})")
        log(f"cycles: {r['cycles']} (the accelerator's own count: {r['rtl_cycles']}); {r['seconds']:.1f} s")
        if r["cycles"] != r["rtl_cycles"] or r.get("error"):
            total += 1
            log(f"image {r['index']}: cycles read {r['cycles']} != {r['rtl_cycles']}, or error code {r.get('error')}")
    if waves:
        log(f"waveforms: {(sub if level == 'subsystem' else chip).rtl_dir / f'tb_{level[:6]}.vcd'}")
    log(f"mismatches: {total}")
    return 1 if total else 0

