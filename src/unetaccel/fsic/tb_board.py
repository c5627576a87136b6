"""cocotb test of FSIC on the simulated PYNQ-Z2 (tb_board.v; unetaccel.fsic.board): the ARM-side
driver (unetaccel.pynq.fsic), unchanged, in a thread (cocotb.task.bridge) with the stand-in `pynq`
installed and the simulated time as its clock. The job (UNETACCEL_FSIC_BOARD_JOB, a JSON file
written by unetaccel.fsic.boardsim) names the bitstream (its .hwh beside it), the IR, the firmware,
the images and their references; the result JSON holds a line per step."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

import cocotb
from cocotb.task import bridge

from .board import SimFsicBoard


class Job:
    def __init__(self, board: SimFsicBoard, job: dict):
        self.board, self.job = board, job
        self.steps: list[dict] = []

    def step(self, name: str, ok: bool, detail: str, **kw) -> None:
        self.steps.append({"step": name, "ok": bool(ok), "detail": detail, "t": self.board.now(), **kw})

    def run(self) -> dict:
        from ..pynq.fsic import FsicOverlay
        job, board = self.job, self.board
        data = np.load(job["data"])
        ol = FsicOverlay(job["bit"], ir=job["ir"], clock=board.now, timeout=job.get("timeout"))
        t = board.now()
        if job.get("preload"):
            ol.reset.write(0x10, 1)  # the flash holds the firmware already: Caravel out of reset
            self.step("firmware", True, "preloaded in the flash; Caravel out of reset")
        else:
            n = ol.load_firmware(job["hex"])
            self.step("firmware", True, f"{n} bytes into the flash through the pass-through in "
                      f"{board.now() - t:.4f} s simulated ({board.qspi.bytes_sent} SPI bytes)")
        t = board.now()
        ol.link_up()
        self.step("link", True, f"HELLO answered UP {board.now() - t:.4f} s after the firmware's start")
        if job.get("withhold"):
            self.withheld(ol)
        for i, img in enumerate(data["images"]):
            logits = bool(job["logits"])
            want = data["logits"][i].transpose(1, 2, 0) if logits else data["classes"][i]
            t = board.now()
            hwc = np.ascontiguousarray(img.transpose(1, 2, 0))
            got = ol.run(hwc, logits=logits)
            mism = int(np.count_nonzero(got.reshape(-1).view(np.uint8) != want.astype(got.dtype).reshape(-1)
                                        .view(np.uint8)))
            self.step(f"image {i}", mism == 0, f"{'logits' if logits else 'class map'}: {mism} mismatching bytes, "
                      f"firmware status {ol.last['status']}, {ol.last['cycles']} cycles, "
                      f"{board.now() - t:.4f} s simulated", mismatches=mism, cycles=ol.last["cycles"],
                      seconds=board.now() - t)
        return {"steps": self.steps, "accesses": board.accesses, "stale_reads": len(board.stale_reads)}

    def withheld(self, ol) -> None:
        """A run whose image never comes: the command, READY, no DMA; the firmware's wait times out,
        it aborts the run (CTRL.abort) and reports UNET_ETIMEOUT with the error code `aborted`."""
        from ..codegen.regmap import ERRORS
        from ..pynq import fsic as f
        t = self.board.now()
        ol.seq += 1
        seq = ol.seq
        ol.fsic.write(f.PL_AA_MB + f.MB_CMD, seq << 8 | f.OP_CLASSES)
        ol._until(lambda: ol.fsic.read(f.PL_AA_MB + f.MB_READY) == seq, "READY of the withheld run")
        ol._until(lambda: ol.fsic.read(f.PL_AA_MB + f.MB_DONE) == seq, "the report of the withheld run")
        status = ol.fsic.read(f.PL_AA_MB + f.MB_STATUS)
        status = status - (1 << 32) if status >> 31 else status
        error = ol.fsic.read(f.PL_AA_MB + f.MB_ERROR)
        cycles = ol.fsic.read(f.PL_AA_MB + f.MB_CYC_LO) | ol.fsic.read(f.PL_AA_MB + f.MB_CYC_HI) << 32
        ok = f.DRIVER_CODES.get(status) == "UNET_ETIMEOUT" and error == ERRORS["aborted"]
        self.step("withheld image", ok, f"no image sent: the firmware reports {f.DRIVER_CODES.get(status, status)}, "
                  f"error code {error} (aborted is {ERRORS['aborted']}), {cycles} cycles, "
                  f"{self.board.now() - t:.4f} s simulated", cycles=cycles)


@cocotb.test()
async def test_board(dut):
    job = json.loads(Path(os.environ["UNETACCEL_FSIC_BOARD_JOB"]).read_text())
    board = SimFsicBoard(dut, Path(job["bit"]).with_suffix(".hwh"))
    await board.power_on()
    with board.installed():
        try:
            result = await bridge(Job(board, job).run)()
        finally:
            pass
    Path(job["result"]).write_text(json.dumps(result))
    bad = [s["step"] for s in result["steps"] if not s["ok"]]
    assert not bad, f"failed steps: {bad}"
