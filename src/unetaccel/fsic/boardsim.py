"""`fsicsim --level board`: FSIC on a simulated PYNQ-Z2, the ARM's driver code and all.

The programmable logic is the RTL FSIC's board design builds (the file list of its block-design
script, $FSIC_FPGA_ROOT/vivado/vvd_caravel_fpga_fsic.tcl, with its example user project 0 replaced
by ours; the rtl/ tree's axil_axis.v in place of the axilite_axis .sv files Icarus cannot take, as
the chip level does; FSIC's flash model that takes writes, vitis_prj/verilog_spiflash/spiflash.v)
joined in BUILD/fsic/sim/tb_board.v; the ARM's side is unetaccel.fsic.board under cocotb (Icarus:
Caravel's pads do not simulate under Verilator). The ARM-side driver unetaccel.pynq.fsic writes the
firmware (BUILD/fsic/firmware/board.c) into the flash through Caravel's pass-through, brings the
link up and runs the images, each compared with the integer reference.
"""
from __future__ import annotations

import json
import logging
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen.cache import sim_build_dir, tool_version
from ..codegen.fsic_project import RTL_FILES
from ..rtl_sim.runner import _failures, _run_cocotb
from ..tools import failed, iverilog, log_file
from . import board as board_mod
from .system import HOW_TO_GET, SLOT0, FsicError, compile_firmware, ensure_fsic, fsic_root

BOARD_SCRIPT = "vivado/vvd_caravel_fpga_fsic.tcl"
SPIFLASH = "vivado/vitis_prj/verilog_spiflash/spiflash.v"
#: The user project inside tb_board (for the accelerator's own cycle count).
ACCEL_PATH = "tb_board.caravel_0.mprj.u_fsic.U_USER_SUBSYS0.U_USRPRJ0.accel"
DEFINES = {"USER_PROJECT_SIDEBAND_SUPPORT": 1, "FUNCTIONAL": 1, "SIM": 1, "UNET_ACCEL": ACCEL_PATH}
BIT = "fsic_unet.bit"  # the simulated board reads the .hwh beside it; the .bit itself is not needed
TOPLEVEL = "tb_board"


def board_sources(root: Path) -> list[Path]:
    """The PL sources of FSIC's board design, from its block-design script's `set files` list,
    without the example user project 0 (ours replaces it) and with axil_axis.v for the
    axilite_axis .sv files; plus the flash model and the clock divider tb_board uses."""
    script = root / BOARD_SCRIPT
    if not script.is_file():
        raise FsicError(f"{script}: missing: the board level needs FSIC's board build (its vivado/ folder): {HOW_TO_GET}")
    text = script.read_text()
    m = re.search(r"set files \[list(.*?)\n\]", text, re.S)
    if not m:
        raise FsicError(f"{script}: no `set files [list ...]` block: not FSIC's board script?")
    names = sorted(set(re.findall(r'(vvd_srcs/[^"\s\]]+)', m.group(1))))
    out = []
    for n in names:
        if SLOT0 in n or "/axilite_axis/rtl/" in n:
            continue
        p = root / "vivado" / n
        if not p.is_file():
            raise FsicError(f"{script} lists {n}, which the checkout does not have: {HOW_TO_GET}")
        out.append(p)
    extra = [root / "rtl/user/axilite_axis/rtl/axil_axis.v", root / "rtl/user/testbench/fsic_clock.v",
             root / SPIFLASH, root / "vip/bram.v"]
    for p in extra:
        if not p.is_file():
            raise FsicError(f"{p}: missing from the FSIC checkout: {HOW_TO_GET}")
    return out + extra


def build_board_firmware(fsic_dir: Path, root: Path, out_dir: Path, wait_irq: bool = True,
                         timeout_polls: int | None = None) -> Path:
    """firmware/board.c as the Makefile's board.hex (BOARD_TIMEOUT: timeout_polls); returns the hex
    the ARM writes into the flash."""
    opts = [f"-DUNET_BOARD_WAIT_IRQ={int(wait_irq)}"]
    if timeout_polls:
        opts.append(f"-DUNET_BOARD_TIMEOUT={int(timeout_polls)}u")
    return compile_firmware(fsic_dir, root, out_dir, "board", opts)


class Board:
    """tb_board built under Icarus (cocotb) for one IR, its firmware and the simulated board's .hwh."""

    def __init__(self, ir_path, build_dir="build", lanes=(8, 8), log=print, root=None, mult="dsp",
                 wait_irq: bool = True, timeout_polls: int | None = None):
        self.root = fsic_root(root)
        self.ir_path = Path(ir_path)
        self.net, self.rtl_dir, self.fsic_dir = ensure_fsic(ir_path, build_dir, lanes, log, mult)
        self.sim = self.fsic_dir / "sim" / "board"
        tag = f"{'irq' if wait_irq else 'poll'}{'_t' + str(timeout_polls) if timeout_polls else ''}"
        self.hex = build_board_firmware(self.fsic_dir, self.root, self.sim / f"fw_{tag}", wait_irq, timeout_polls)
        from ..codegen.fsic_board import dma_length_bits
        (self.sim / BIT).with_suffix(".hwh").write_text(board_mod.board_hwh(dma_length_bits(self.net)))
        self.bit = self.sim / BIT
        self.runner, self.build_dir = self._build(log)

    def _build(self, log):
        iverilog()
        from cocotb_tools.runner import get_runner
        runner = get_runner("icarus")
        runner.log.setLevel(max(logging.INFO, logging.getLogger("unetaccel").getEffectiveLevel()))
        srcs = [*board_sources(self.root), *((self.fsic_dir / f).resolve() for f in RTL_FILES),
                self.fsic_dir / "sim" / "tb_board.v"]
        includes = [self.root / "vivado/vvd_srcs/caravel_soc/rtl/header"]
        versions = {"icarus": tool_version("vvp", "-V")}
        bdir = sim_build_dir(self.fsic_dir / "sim_build", "icarus", TOPLEVEL, json.dumps(DEFINES), json.dumps(versions),
                             *srcs)
        done = bdir / "built.json"
        if done.is_file():
            return runner, bdir
        log(f"icarus build of {TOPLEVEL} (FSIC's board design with our USER_PRJ0) in {bdir}")
        t = time.time()
        logf = log_file(self.fsic_dir.parent, f"icarus-build-{TOPLEVEL}")
        try:
            runner.build(sources=srcs, hdl_toplevel=TOPLEVEL, build_dir=bdir, includes=includes, defines=DEFINES,
                         timescale=("1ns", "1ps"), always=True, log_file=logf)
        except RuntimeError as e:
            raise FsicError(failed(f"the Icarus build of {TOPLEVEL} failed ({e})", logf)) from None
        done.write_text(json.dumps({"toplevel": TOPLEVEL, "sources": list(map(str, srcs))}, indent=1) + "\n")
        log(f"built in {time.time() - t:.1f} s")
        return runner, bdir

    def run(self, images: np.ndarray, logits: bool = False, waves: bool = False, trace: bool = False,
            timeout: float = 0.2, preload: bool = False, withhold: bool = False) -> dict:
        """The images through the driver on the simulated board; timeout: the driver's (simulated
        seconds). preload: the flash holds the firmware from the start (the driver only releases
        Caravel's reset) instead of the driver writing it through the quad SPI (about 18 ms simulated).
        withhold: first a run whose image the ARM never sends (the firmware must abort it; build the
        Board with a short timeout_polls)."""
        ref = irmod.reference.run(self.net, images, layout="nchw")
        with tempfile.TemporaryDirectory(prefix="unetaccel_board_") as tmp:
            work = Path(tmp)
            np.savez(work / "data.npz", images=images.astype(np.uint8), classes=ref.classes, logits=ref.logits)
            job = {"bit": str(self.bit.resolve()), "ir": str(self.ir_path.resolve()), "hex": str(self.hex.resolve()),
                   "data": str(work / "data.npz"), "logits": bool(logits), "result": str(work / "result.json"),
                   "timeout": timeout, "preload": bool(preload), "withhold": bool(withhold)}
            (work / "job.json").write_text(json.dumps(job))
            env = {"UNETACCEL_FSIC_BOARD_JOB": str(work / "job.json")}
            xml, seconds = _run_cocotb(self.runner, TOPLEVEL, "unetaccel.fsic.tb_board", self.build_dir, self.rtl_dir,
                                       env, work, waves=waves,
                                       plusargs=(["+trace"] if trace else []) + ([f"+flash={self.hex}"] if preload else []))
            failures = _failures(xml)
            logf = log_file(self.fsic_dir.parent, f"{self.build_dir.parent.name}-{TOPLEVEL}")
            if not (work / "result.json").exists():
                raise FsicError(f"the board test failed: {failures or 'no results written'} (log: {logf})")
            res = json.loads((work / "result.json").read_text())
        text = logf.read_text(errors="replace") if logf.is_file() else ""
        res["rtl_cycles"] = [int(x) for x in re.findall(r"TB RUN (\d+)", text)]
        res.update(seconds=seconds, failures=failures, log=str(logf))
        return res
