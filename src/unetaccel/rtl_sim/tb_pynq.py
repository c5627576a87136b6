"""cocotb test of the PYNQ driver on the simulated board (unetaccel.rtl_sim.pynq_board), the IP top
`unet_accel_ip` as the toplevel.

UNETACCEL_PYNQ_JOB names a JSON job written by unetaccel.rtl_sim.pynqsim: bit (BUILD/pynq/unet.bit;
the .hwh beside it is what the board is built from), ir, data (an .npz: images N x C x H x W,
classes, logits of the reference), logits (also run infer_logits), checks (recovery checks by
name, pynqsim.CHECKS), throughput (frames for throughput_test, 0: none), reload (optional: an IR of the
same shapes and its reference, for load_weights), timeout_factor, result (the JSON written).

The driver (unetaccel.pynq.driver) runs unchanged in a thread (cocotb.task.bridge) with the
stand-in `pynq` installed; its clock is the simulated time.
"""
from __future__ import annotations

import json
import os
import traceback

import cocotb
import numpy as np
from cocotb.task import bridge

from unetaccel.rtl_sim.pynq_board import SimBoard

def _hwc(chw: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(chw).transpose(1, 2, 0)).astype(np.uint8)


class Job:
    """The checks, run in the driver's thread."""

    def __init__(self, board: SimBoard, job: dict):
        self.board, self.job = board, job
        d = np.load(job["data"])
        self.images, self.classes, self.logits = d["images"], d["classes"], d["logits"]
        self.steps: list[dict] = []

    def step(self, what: str, ok: bool, detail: str = "", mismatches: int = 0, **kw) -> dict:
        s = {"step": what, "ok": bool(ok), "detail": detail, "mismatches": int(mismatches), **kw}
        self.steps.append(s)
        return s

    def run(self) -> dict:
        if self.job.get("notebook"):
            return self.run_notebook(self.job["notebook"])
        from unetaccel.pynq import driver
        ol = driver.UnetOverlay(self.job["bit"], ir=self.job["ir"], clock=self.board.now)
        self.ol = ol
        frame = ol.expected_cycles(logits=True) / (ol.config.clock_mhz * 1e6)
        ol.timeout = self.job.get("timeout_factor", 20) * frame
        self.n = len(self.images)
        for i in range(self.n):
            self.image(i)
        if self.job.get("logits"):
            for i in range(self.n):
                self.image(i, logits=True)
        for name in self.job.get("checks", ()):
            t0 = self.board.now()
            try:
                ok, detail = getattr(self, f"check_{name}")()
            except Exception as e:  # a check that raised failed; the board is reset for the next one
                ok, detail = False, f"{type(e).__name__}: {e}"
                self.board_log(traceback.format_exc())
                self._reload()
            self.step(f"check {name}", ok, detail, sim_us=(self.board.now() - t0) * 1e6)
            self.image(len(self.steps) % self.n, after=name)
        if self.job.get("reload"):
            self.check_reload()
        out = {"steps": self.steps, "stale_reads": self.board.stale_reads, "accesses": self.board.accesses,
               "timeout_s": ol.timeout, "dma_length_bits": self.board.dma.length_bits}
        if self.job.get("throughput"):
            self.image(0)  # the buffers hold a real image
            out["throughput"] = ol.throughput_test(int(self.job["throughput"]), logits=bool(self.job.get("logits")))
        return out

    def run_notebook(self, nb: dict) -> dict:
        """The board notebook's code cells, in order, in its folder (the files it names there), the
        driver's clock the wall clock as on a board; then nb["extra"], more code to run there."""
        cells = [c for c in json.load(open(nb["path"]))["cells"] if c["cell_type"] == "code"]
        cells += [{"id": f"extra-{i}", "source": [src]} for i, src in enumerate(nb.get("extra", ()))]
        scope: dict = {}
        here = os.getcwd()
        os.chdir(nb["folder"])
        try:
            for i, c in enumerate(cells):
                src = "".join(c["source"])
                t0 = self.board.now()
                try:
                    exec(compile(src, f"{nb['path']} cell {c.get('id', i)}", "exec"), scope)
                except Exception as e:
                    self.board_log(traceback.format_exc())
                    self.step(f"notebook cell {c.get('id', i)}", False, f"{type(e).__name__}: {e}")
                    break
                self.step(f"notebook cell {c.get('id', i)}", True, "ran", sim_us=(self.board.now() - t0) * 1e6)
        finally:
            os.chdir(here)
        scores = scope.get("scores") or {}
        return {"steps": self.steps, "stale_reads": self.board.stale_reads, "accesses": self.board.accesses,
                "timeout_s": getattr(scope.get("ol"), "timeout", 0.0), "scores": scores}

    def board_log(self, text: str) -> None:
        cocotb.log.info(text)

    def _reload(self):
        """Back to a clean board after a failed check: the bitstream 'reloaded' (a PL reset)."""
        self.ol.download()
        self.ol.reset_dma()

    def image(self, i: int, logits: bool = False, after: str | None = None) -> dict:
        ol = self.ol
        t0 = self.board.now()
        what = f"image {i} ({'logits' if logits else 'class map'})" + (f" after {after}" if after else "")
        try:
            if logits:
                got = ol.infer_logits(_hwc(self.images[i]))
                want = np.asarray(self.logits[i]).transpose(1, 2, 0).astype(np.int8)
            else:
                got = ol.infer(_hwc(self.images[i]))
                want = np.asarray(self.classes[i]).astype(np.uint8)
        except Exception as e:
            self._reload()
            return self.step(what, False, f"{type(e).__name__}: {e}", mismatches=int(np.asarray(self.classes[i]).size))
        mism = int(np.count_nonzero(got != want)) if got.shape == want.shape else int(want.size)
        return self.step(what, mism == 0, "match" if mism == 0 else f"{mism} mismatching values", mismatches=mism,
                         cycles=int(ol.last_cycles), sim_us=(self.board.now() - t0) * 1e6)

    def _frame(self, i: int) -> np.ndarray:
        return _hwc(self.images[i]).reshape(-1)

    def _class_map(self) -> np.ndarray:
        h, w, _ = self.ol.config.input_shape
        return np.array(self.ol.obuf[:h * w]).reshape(h, w)

    # --- the recovery checks: each returns (ok, detail) -------------------------------------------
    def check_flush(self):
        """The input buffer written but not flushed: the DMA reads the DRAM's stale copy (the
        previous image), the board records the stale read, and the class map is the previous image's."""
        ol, n_in = self.ol, self.ol.config.in_bytes
        a = self._frame(0)
        b = self._frame(1) if self.n > 1 else 255 - a
        ol.ibuf[:n_in] = a
        ol.execute_on_buffers()
        first = self._class_map()
        before = len(self.board.stale_reads)
        ol.ibuf[:n_in] = b
        ol.ibuf.flush = lambda: None  # the forgotten flush (PYNQ's transfer() flushes too: both are gone)
        try:
            ol.execute_on_buffers()
        finally:
            del ol.ibuf.flush
        stale = self.board.stale_reads[before:]
        same = bool(np.array_equal(self._class_map(), first))
        ok = bool(stale) and same
        return ok, (f"stale data detected: the DMA read {stale[0]['differing']} bytes that differ from the CPU's "
                    f"copy; the class map is the previous image's" if ok else
                    f"stale reads {stale}, class map equal to the previous image's: {same}")

    def check_abort(self):
        """CTRL.abort while the frame streams in: ERROR = aborted, the engine idle, the DMA reset."""
        ol = self.ol
        ol.ibuf[:ol.config.in_bytes] = self._frame(0)
        ol.start_run(ol.obuf)
        ol.ibuf.flush()
        ol.send(ol.ibuf, 0, ol.config.in_bytes, wait=False)
        ol.accel.ctrl()
        streaming = not ol.dma.sendchannel.idle
        ol.accel.abort()
        err = ol.accel.error_code()
        done = ol.recover()
        ctrl = ol.accel.ctrl()
        ok = err == _error("aborted") and ctrl["ap_idle"] == 1
        return ok, (f"ERROR {err} (aborted is {_error('aborted')}) with the input "
                    f"{'still streaming' if streaming else 'already taken'}; {done}")

    def check_split(self):
        """A frame in two DMA transfers (TLAST at the end of each): the class map is exact."""
        ol = self.ol
        ol.ibuf[:ol.config.in_bytes] = self._frame(0)
        ol.execute_on_buffers(chunks=2)
        mism = int(np.count_nonzero(self._class_map() != self.classes[0]))
        return mism == 0, f"{mism} mismatching pixels; STATUS {ol.last_status or 'clear'}"

    def check_tlast(self):
        """A frame whose last beat has no TLAST (the board's DMA told to leave it off): the class map
        is exact and the driver reports STATUS.tlast_missing."""
        from unetaccel.pynq.errors import StatusError
        ol = self.ol
        ol.ibuf[:ol.config.in_bytes] = self._frame(0)
        self.board.dma.no_tlast_once = True
        try:
            ol.execute_on_buffers()
            return False, f"no error raised; STATUS {ol.last_status or 'clear'}"
        except StatusError as e:
            mism = int(np.count_nonzero(self._class_map() != self.classes[0]))
            return "tlast_missing" in e.bits and mism == 0, f"{e}; {mism} mismatching pixels"

    def check_long_frame(self):
        """One DMA transfer of the frame and one beat more (TLAST on that beat): the class map is
        exact, the driver reports STATUS (tlast_missing) and leaves the DMA clean."""
        from unetaccel.pynq.errors import StatusError
        import pynq
        ol, n_in = self.ol, self.ol.config.in_bytes
        big = pynq.allocate(shape=(n_in + (-n_in % 4) + 4,), dtype=np.uint8)
        big[:] = 0
        big[:n_in] = self._frame(0)
        try:
            ol.start_run(ol.obuf)
            big.flush()
            ol.send(big, 0, big.nbytes, wait=False)
            ol.finish_run(ol.obuf)
            return False, f"no error raised; STATUS {ol.last_status or 'clear'}"
        except StatusError as e:
            mism = int(np.count_nonzero(self._class_map() != self.classes[0]))
            return "tlast_missing" in e.bits and mism == 0, f"{e}; {mism} mismatching pixels"
        finally:
            big.freebuffer()

    def check_timeout(self):
        """Half a frame sent, then the driver waits: past the timeout (for this check at most two
        expected frames) it aborts, resets the DMA and raises AcceleratorTimeout (no hang)."""
        from unetaccel.pynq.errors import AcceleratorTimeout
        ol = self.ol
        half = ol.config.in_bytes // 2 // 4 * 4
        ol.ibuf[:ol.config.in_bytes] = self._frame(0)
        # the check's timeout: at most 2 expected frames (a big network's 20 would be minutes of polling)
        saved, ol.timeout = ol.timeout, min(ol.timeout, 2 * ol.expected_cycles(logits=True) /
                                            (ol.config.clock_mhz * 1e6))
        try:
            ol.start_run(ol.obuf)
            ol.ibuf.flush()
            ol.send(ol.ibuf, 0, half)
            ol.finish_run(ol.obuf)
            return False, "the run ended on half a frame"
        except AcceleratorTimeout as e:
            waited = self.board.now() - ol._t0
            return waited >= ol.timeout and ol.accel.idle(), f"{e} (after {waited * 1e6:.1f} us simulated)"
        finally:
            ol.timeout = saved

    def check_length(self):
        """A transfer longer than the DMA's length register (c_sg_length_width, from the .hwh) is
        refused before it starts, as PYNQ's driver does; the frames of this network fit it."""
        import pynq
        ol = self.ol
        bits = self.board.dma.length_bits
        most = max(ol.config.in_bytes, ol.config.logit_bytes, ol.config.class_bytes)
        big = pynq.allocate(shape=(1 << bits,), dtype=np.uint8)
        try:
            ol.dma.sendchannel.transfer(big)
            return False, f"a {big.nbytes}-byte transfer was started on a {bits}-bit length register"
        except ValueError as e:
            return most < 1 << bits, f"refused: {e} (the largest frame, {most} bytes, fits {bits} bits)"
        finally:
            big.freebuffer()

    def check_reload(self):
        """load_weights: another network's parameters (same shapes) through WLOAD, its reference
        exact; then the original's again, exact."""
        r = self.job["reload"]
        d = np.load(r["data"])
        ol = self.ol
        t0 = self.board.now()
        words = ol.load_weights(r["ir"])
        got = ol.infer(_hwc(self.images[0]))
        mism = int(np.count_nonzero(got != d["classes"][0]))
        self.step("load_weights (another network)", mism == 0, f"{words} words; {mism} mismatching pixels",
                  mismatches=mism, sim_us=(self.board.now() - t0) * 1e6)
        ol.load_weights(self.job["ir"])
        self.image(0, after="load_weights (the network again)")


def _error(name: str) -> int:
    from unetaccel.codegen import regmap
    return regmap.ERRORS[name]


@cocotb.test()
async def test_pynq(dut):
    with open(os.environ["UNETACCEL_PYNQ_JOB"]) as fh:
        job = json.load(fh)
    hwh = os.path.splitext(job["bit"])[0] + ".hwh"
    board = SimBoard(dut, hwh)
    await board.power_on()
    with board.installed():
        result = await bridge(Job(board, job).run)()
    with open(job["result"], "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    bad = [s for s in result["steps"] if not s["ok"]]
    assert not bad, "; ".join(f"{s['step']}: {s['detail']}" for s in bad)
