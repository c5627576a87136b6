"""`unetaccel fsicsim`: images through our USER_PRJ0 inside the real FSIC RTL, compared with the
reference; prints per image match/mismatch and cycles, then `mismatches: N`."""
from __future__ import annotations


from .. import ir as irmod
from ..ir.data import input_images
from ..rtl_sim.rtlsim import generated_lanes, generated_mult
from . import system

LEVELS = ("subsystem", "chip", "board")


def main(ir_path, build_dir="build", images=1, level="subsystem", logits=False, waves=False, simulator="icarus",
         lanes=None, random_images=False, seed=0, wait_irq=False, log=print, withhold_polls: int = 0) -> int:
    """withhold_polls (the board level; tests): first a run whose image the ARM withholds, with the
    firmware's wait bounded to that many polls, which it must abort and report."""
    if level not in LEVELS:
        raise system.FsicError(f"--level {level!r}: the levels are {' and '.join(LEVELS)}")
    system.check_simulator(simulator)
    if level in ("chip", "board") and simulator != "icarus":
        raise system.FsicError(f"--level {level} runs under Icarus only: Caravel's pads and flash do not simulate "
                               "under Verilator (FSIC's own chip test times out there)")
    root = system.fsic_root()  # before anything is built: a missing checkout is bad input
    net = irmod.load(ir_path)
    lanes = lanes or generated_lanes(build_dir) or (8, 8)
    mult = generated_mult(build_dir) or "dsp"
    imgs = input_images(ir_path, net, images, random_images, seed, log)
    log(f"FSIC {level} level ({root}), lanes {lanes[0]}x{lanes[1]}, simulator {simulator}")
    if level == "board":
        return board_main(ir_path, build_dir, imgs, lanes, mult, logits, waves, root, log, withhold_polls)
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



def board_main(ir_path, build_dir, imgs, lanes, mult, logits, waves, root, log, withhold_polls=0) -> int:
    """--level board: the ARM-side driver (unetaccel.pynq.fsic) on the simulated PYNQ-Z2."""
    from .boardsim import Board
    b = Board(ir_path, build_dir, lanes, log=log, root=root, mult=mult, timeout_polls=withhold_polls or None)
    log(f"firmware {b.hex} ({b.hex.stat().st_size} bytes of hex); the simulated board's handoff {b.bit.with_suffix('.hwh')}")
    res = b.run(imgs, logits=logits, waves=waves, withhold=bool(withhold_polls))
    total = 0
    runs = iter(res["rtl_cycles"])
    for s in res["steps"]:
        bad = s.get("mismatches", 0) + (0 if s["ok"] else 1 if not s.get("mismatches") else 0)
        if "cycles" in s:
            own = next(runs, None)
            if own != s["cycles"]:
                bad += 1
                s["detail"] += f"; the accelerator's own count {own} differs"
        total += bad
        log(f"{s['step']}: {'ok' if s['ok'] and not bad else 'FAILED'}: {s['detail']} (at {s['t']:.4f} s)")
    log(f"{res['accesses']} register accesses; simulated in {res['seconds']:.1f} s (log: {res['log']})")
    if waves:
        log(f"waveforms: {b.rtl_dir / 'tb_board.vcd'}")
    log(f"mismatches: {total}")
    return 1 if total else 0
