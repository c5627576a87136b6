"""`unetaccel pynqsim`: the PYNQ driver, unchanged, against the generated IP on a simulated PYNQ-Z2.

The IP top (BUILD/rtl/unet_accel_ip.v, codegen.ip.IP_TOP_FILE) is the cocotb toplevel under Verilator; the board around
it (the PS7's GP0 port, the AXI DMA, the DDR behind a write-back cache) is
unetaccel.rtl_sim.pynq_board, built from the block design's BUILD/pynq/unet.hwh; the driver
(unetaccel.pynq) talks to it through a stand-in `pynq` module. Images go through infer (and
infer_logits), each compared with the integer reference; then the recovery checks
(CHECKS), each followed by an exact image. One line a step, `mismatches: N` last.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen.cache import locked
from ..codegen.ip import IP_TOP, IP_TOP_FILE
from ..ir.data import input_images
from .runner import RtlSimError, _failures, _run_cocotb, build, ensure_rtl, sim_log
from .rtlsim import generated_lanes, generated_mult

TOPLEVEL = IP_TOP
IP_SOURCES = [IP_TOP_FILE, "unet_accel.sv", "unet_regs.sv", "unet_core.sv"]
PYNQ_DIR = "pynq"
CHECKS = ("flush", "length", "abort", "split", "tlast", "long_frame", "timeout")  # tb_pynq.Job.check_<name>
TIMEOUT_FACTOR = 20  # the simulated driver's timeout: this many times the IR's ideal frame time


def ensure_pynq(ir_path, build_dir, lanes, log=print) -> Path:
    """BUILD/pynq with unet.hwh and unet_accel.json: (re)written by unetaccel.codegen.pynq_project's
    generate_pynq (only the files whose text changed; a Vivado .hwh beside a unet.bit is kept) when
    this unetaccel has it, else expected in place. Returns the bitstream's path (unet.bit; the
    simulation reads the .hwh beside it, the .bit need not exist)."""
    out = Path(build_dir) / PYNQ_DIR
    try:
        from ..codegen import pynq_project
    except ImportError:
        pynq_project = None
    if pynq_project is not None and hasattr(pynq_project, "generate_pynq"):
        pynq_project.generate_pynq(irmod.load(ir_path), out, lanes=lanes, ir_file=Path(ir_path).with_suffix(".json").name)
    for name in ("unet.hwh", "unet_accel.json"):
        if not (out / name).is_file():
            raise RtlSimError(f"{out / name}: missing; `unetaccel bitstream --ir {ir_path}` writes BUILD/pynq")
    return out / "unet.bit"


def simulate(ir_path, images: np.ndarray, build_dir="build", lanes=(8, 8), logits=False, checks=(), throughput=0,
             reload_ir=None, log=print, mult="dsp", reference_ir=None, notebook=None) -> dict:
    """Run the job on the simulated board (holds BUILD/rtl's lock); returns tb_pynq's result
    (steps, stale reads, throughput) and `failures`. reload_ir: another IR of the same shapes,
    written through load_weights and checked, then this one again. reference_ir: judge the images
    against that IR's reference instead (the tests' proof that a wrong output fails the rung).
    notebook: {"path": an .ipynb, "folder": where its cells run, "extra": [code, ...]}: instead of
    the checks, the notebook's code cells run on the simulated board (the folder holds the files it
    names), then the extra code."""
    with locked(Path(build_dir) / "rtl"):
        net, rtl_dir = ensure_rtl(ir_path, build_dir, lanes, log, mult)
        bit = ensure_pynq(ir_path, build_dir, lanes, log)
        runner, sim_dir = build(rtl_dir, False, log, TOPLEVEL, IP_SOURCES)
        judge = irmod.load(reference_ir) if reference_ir is not None else net
        ref = irmod.reference.run(judge, images, layout="nchw")
        with tempfile.TemporaryDirectory(prefix="unetaccel_pynqsim_") as tmp:
            work = Path(tmp)
            np.savez(work / "data.npz", images=images.astype(np.uint8), classes=ref.classes, logits=ref.logits)
            job = {"bit": str(Path(bit).resolve()), "ir": str(Path(ir_path).resolve()), "data": str(work / "data.npz"),
                   "logits": bool(logits), "checks": list(checks), "throughput": int(throughput),
                   "timeout_factor": TIMEOUT_FACTOR, "result": str(work / "result.json")}
            if reload_ir is not None:
                other = irmod.load(reload_ir)
                oref = irmod.reference.run(other, images[:1], layout="nchw")
                np.savez(work / "reload.npz", classes=oref.classes)
                job["reload"] = {"ir": str(Path(reload_ir).resolve()), "data": str(work / "reload.npz")}
            if notebook is not None:
                job["notebook"] = {"path": str(Path(notebook["path"]).resolve()),
                                   "folder": str(Path(notebook["folder"]).resolve()),
                                   "extra": list(notebook.get("extra", ()))}
            (work / "job.json").write_text(json.dumps(job))
            env = {"UNETACCEL_PYNQ_JOB": str(work / "job.json")}
            xml, seconds = _run_cocotb(runner, TOPLEVEL, "unetaccel.rtl_sim.tb_pynq", sim_dir, rtl_dir, env, work)
            failures = _failures(xml)
            result = work / "result.json"
            if not result.exists():
                raise RtlSimError(f"the cocotb test failed: {failures or 'no results written'} "
                                  f"(log: {sim_log(sim_dir, rtl_dir, TOPLEVEL)})")
            res = json.loads(result.read_text())
    res["seconds"], res["failures"] = seconds, failures
    res["log"] = str(sim_log(sim_dir, rtl_dir, TOPLEVEL))
    return res


def main(ir_path, build_dir="build", lanes=None, images=2, logits=False, random_images=False, seed=0,
         checks=None, log=print) -> int:
    """Prints a line a step, then `mismatches: N` (mismatching bytes of every compared output, plus
    one for each failed check); returns the exit code."""
    net = irmod.load(ir_path)
    lanes = lanes or generated_lanes(build_dir) or (8, 8)
    mult = generated_mult(build_dir) or "dsp"
    log(f"lanes: {lanes[0]}x{lanes[1]}, simulator: verilator, toplevel: {TOPLEVEL}")
    imgs = input_images(ir_path, net, images, random_images, seed, log)
    res = simulate(ir_path, imgs, build_dir, lanes, logits, CHECKS if checks is None else checks, log=log, mult=mult)
    total = report(res, log)
    return 1 if total else 0


def report(res: dict, log=print) -> int:
    """A line a step of a simulate() result, then `mismatches: N`; returns N."""
    total = 0
    for s in res["steps"]:
        total += s["mismatches"] + (0 if s["ok"] or s["mismatches"] else 1)
        extra = []
        if s.get("cycles"):
            extra.append(f"{s['cycles']} engine cycles")
        if s.get("sim_us") is not None:
            extra.append(f"{s['sim_us']:.1f} us simulated")
        log(f"{s['step']}: {'ok' if s['ok'] else 'FAILED'}: {s['detail']}" + (f" ({', '.join(extra)})" if extra else ""))
    log(f"driver timeout {res['timeout_s'] * 1e3:.3f} ms; {res['accesses']} register accesses; "
        f"simulated in {res['seconds']:.1f} s (log: {res['log']})")
    log(f"mismatches: {total}")
    return total
