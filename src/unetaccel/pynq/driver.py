"""The PYNQ driver: `UnetAccel` (a DefaultIP bound to both IPs' VLNVs) and `UnetOverlay`.

`pynq` is imported on first use of either class (`from unetaccel.pynq import UnetOverlay`), never
when this module is imported: off the board the package imports, and the simulated board
(unetaccel.rtl_sim.pynq_board) installs its stand-in as sys.modules["pynq"] before the driver's
classes are made, so the same code runs there unchanged.

A run (execute_on_buffers): the output buffer's S2MM transfer is programmed, the engine started
(MODE, CTRL.ap_start), the input buffer flushed and sent (MM2S; a frame may be split over several
transfers), then CTRL is polled until ap_done, the S2MM channel until idle, the output buffer
invalidated. Every wait is bounded by the timeout: past it the driver aborts the run
(CTRL.abort), soft-resets the AXI DMA when a channel is still busy (MM2S_DMACR.Reset, PG021) and
raises AcceleratorTimeout. A run that ends with an ERROR code raises that code's RunError; sticky
STATUS bits it left raise StatusError; both after the same recovery, so the next run starts clean.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..codegen import regmap
from ..codegen.ip import vlnv
from .. import tiling
from .config import Deployment, default_timeout, expected_cycles, load_deployment
from .errors import (AcceleratorError, AcceleratorTimeout, DeploymentError, DmaError, LoadRefused, StatusError,
                     run_error)

RTL_VLNV, HLS_VLNV = vlnv(hls=False), vlnv(hls=True)  # codegen.ip: what package_ip.tcl and run_hls.tcl export
#: What UnetAccel binds to: both IPs, with and without the version.
VLNVS = [RTL_VLNV, RTL_VLNV.rpartition(":")[0], HLS_VLNV, HLS_VLNV.rpartition(":")[0]]

# AXI DMA (PG021) simple-mode registers the driver touches itself (PYNQ's DMA driver does the rest)
DMA_MM2S_DMACR, DMA_MM2S_DMASR, DMA_S2MM_DMACR, DMA_S2MM_DMASR = 0x00, 0x04, 0x30, 0x34
DMACR_RESET = 1 << 2  # soft reset of the whole DMA (both channels); reads 1 until it is done
ERROR_POLLS = 16  # while waiting, the DMA's error bits are read every this many polls (a read costs bus time)
RESET_POLLS = 1000  # register reads a DMA soft reset may take (PG021: a few cycles once the streams are quiet)


def _fields(reg: str) -> dict:
    return regmap.fields().get(reg, {})


class _Registers:
    """Register access by name through the IP's register map (offsets from unet_accel.json, fields
    from unetaccel.codegen.regmap). Mixed into the DefaultIP subclass."""
    registers: dict[str, int] = {r.name: r.offset for r in regmap.REGISTERS}

    def has(self, name: str) -> bool:
        return name in self.registers

    def read_reg(self, name: str) -> int:
        return int(self.read(self.registers[name]))

    def write_reg(self, name: str, value: int) -> None:
        self.write(self.registers[name], int(value) & 0xFFFFFFFF)

    def ctrl(self) -> dict[str, int]:
        return regmap.unpack("CTRL", self.read_reg("CTRL"))

    def idle(self) -> bool:
        return bool(self.ctrl()["ap_idle"])

    def error_code(self) -> int:
        return regmap.unpack("ERROR", self.read_reg("ERROR"))["code"]

    def cycles(self) -> int:
        """CYCLES_HI:CYCLES_LO, the cycles of the last run (as the engine counts them); 0 when the IP
        has no cycle counter (the HLS IP)."""
        if not self.has("CYCLES_LO"):
            return 0
        return self.read_reg("CYCLES_HI") << 32 | self.read_reg("CYCLES_LO")

    def status_bits(self) -> list[str]:
        """The sticky STATUS bits set (empty when the IP has no STATUS register)."""
        if not self.has("STATUS"):
            return []
        word = self.read_reg("STATUS")
        return [n for n, f in _fields("STATUS").items() if word >> f.lsb & 1]

    def clear_status(self, bits: list[str] | None = None) -> None:
        """Write 1 to clear the given STATUS bits (all by default)."""
        if self.has("STATUS"):
            names = list(_fields("STATUS")) if bits is None else bits
            if names:
                self.write_reg("STATUS", regmap.pack("STATUS", **{n: 1 for n in names}))

    def can_abort(self) -> bool:
        return "abort" in _fields("CTRL")

    def abort(self) -> None:
        """CTRL.abort: stop the run at once (the engine goes idle with ERROR = aborted)."""
        if not self.can_abort():
            raise AcceleratorError("this IP's register map has no CTRL.abort: only reloading the bitstream "
                                   "(UnetOverlay.download()) stops a run")
        self.write_reg("CTRL", regmap.pack("CTRL", abort=1))

    def start(self, logits: bool = False) -> None:
        """MODE (whole network; class map or logits), the done interrupt acknowledged, CTRL.ap_start."""
        self.write_reg("MODE", regmap.pack("MODE", logits=int(logits)))
        self.write_reg("ISR", regmap.pack("ISR", done=1))
        self.write_reg("CTRL", regmap.pack("CTRL", ap_start=1))

    def acknowledge(self) -> None:
        self.write_reg("ISR", regmap.pack("ISR", done=1))


_CLASSES: dict[int, tuple[type, type]] = {}


def _classes():
    """(UnetAccel, UnetOverlay) made on the current `pynq` module (the board's or the simulated one)."""
    import pynq
    key = id(pynq)
    if key not in _CLASSES:
        _CLASSES[key] = _make(pynq)
    return _CLASSES[key]


def __getattr__(name: str):
    if name in ("UnetAccel", "UnetOverlay"):
        accel, overlay = _classes()
        return accel if name == "UnetAccel" else overlay
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _make(pynq):  # noqa: C901 (the two classes, closed over the pynq module they derive from)
    class UnetAccel(_Registers, pynq.DefaultIP):
        """The accelerator's AXI-Lite slave (s_axi_control), RTL or HLS IP: register access by name."""
        bindto = list(VLNVS)

        def __init__(self, description):
            super().__init__(description=description)
            self.registers = dict(_Registers.registers)

        def identify(self) -> None:
            """The RTL IP answers ID = "UNET"; anything else is not our IP (or no bitstream is loaded)."""
            if self.has("ID"):
                got = self.read_reg("ID")
                if got != regmap.ID_VALUE:
                    raise DeploymentError(f"the IP at {self.mmio.base_addr:#x} reads ID {got:#010x}, expected "
                                          f"{regmap.ID_VALUE:#010x} (\"UNET\"): is unet.bit loaded?")

    class UnetOverlay(pynq.Overlay):
        """The UNet accelerator overlay: `UnetOverlay("unet.bit")` loads the bitstream (unless
        download=False) and finds unet_accel.json (and the IR it names) beside it.

        ir: the IR (a path or a loaded IR) for the default timeout and for validate; default the one
        unet_accel.json names, when it lies beside it. timeout: seconds a run may take before it is
        aborted (default: config.default_timeout). clock: the time source of the timeout and of
        throughput_test (time.monotonic; the simulated board passes its simulated time)."""

        def __init__(self, bitfile_name, ir=None, timeout: float | None = None, clock=time.monotonic,
                     download: bool = True, **kwargs):
            self.config: Deployment = load_deployment(bitfile_name)
            super().__init__(str(bitfile_name), download=download, **kwargs)
            cfg = self.config
            self.clock = clock
            self.net = _load_ir(ir if ir is not None else cfg.ir_path)
            self.timeout = float(timeout) if timeout is not None else default_timeout(self.net, cfg)
            for name in (cfg.instance, cfg.dma):
                if name not in self.ip_dict:
                    raise DeploymentError(f"{bitfile_name}: the block design has no {name!r} (IP blocks: "
                                          f"{', '.join(sorted(self.ip_dict))})")
            drv = getattr(self, cfg.instance)
            # PYNQ binds our driver by VLNV; a version it does not know leaves a DefaultIP: ours then
            self.accel = drv if isinstance(drv, UnetAccel) else UnetAccel(self.ip_dict[cfg.instance])
            self.accel.registers = dict(cfg.registers)
            self.dma = getattr(self, cfg.dma)
            self.accel.identify()
            h, w, c = cfg.input_shape
            self.ibuf = pynq.allocate(shape=(_whole_beats(cfg.in_bytes),), dtype=np.uint8)
            self.obuf = pynq.allocate(shape=(_whole_beats(max(cfg.class_bytes, cfg.logit_bytes)),), dtype=np.uint8)
            self.last_cycles = 0
            self.last_status: list[str] = []

        # --- runs -----------------------------------------------------------------------------
        def execute_on_buffers(self, ibuf=None, obuf=None, logits: bool = False, chunks: int = 1) -> int:
            """One frame from ibuf (HWC bytes, pynq.allocate'd) into obuf: the class map (H*W bytes) or
            the logits (H*W*K int8 codes). ibuf is flushed before the DMA reads it and obuf
            invalidated after the DMA wrote it. chunks > 1 sends the frame in that many DMA transfers
            (for a DMA whose length register is narrower than the frame). Returns the bytes received."""
            ibuf = self.ibuf if ibuf is None else ibuf
            obuf = self.obuf if obuf is None else obuf
            n_in = self.config.in_bytes
            if ibuf.nbytes < n_in:
                raise AcceleratorError(f"input buffer of {ibuf.nbytes} bytes: a frame is {n_in} bytes")
            self.start_run(obuf, logits)
            ibuf.flush()
            # chunk boundaries on whole beats (the DMA has no realignment engine: a transfer starts aligned)
            bounds = [min(n_in, _whole_beats(int(b))) for b in np.linspace(0, n_in, int(chunks) + 1)]
            for a, b in zip(bounds[:-1], bounds[1:]):
                if b > a:
                    self.send(ibuf, int(a), int(b - a))
            return self.finish_run(obuf, allow=("tlast_early",) if chunks > 1 else ())

        def start_run(self, obuf, logits: bool = False) -> None:
            """The S2MM transfer into obuf, then the engine started (MODE, CTRL.ap_start)."""
            n_out = self.config.out_bytes(logits)
            if obuf.nbytes < n_out:
                raise AcceleratorError(f"output buffer of {obuf.nbytes} bytes: the {'logits' if logits else 'class map'}"
                                       f" take {n_out} bytes")
            self._t0 = self.clock()
            self._logits = logits
            if not self.accel.idle():
                raise AcceleratorError("the engine is busy (a run was left running: call recover() or abort())")
            self.accel.clear_status()
            self._check_dma_idle_for_start()
            self.dma.recvchannel.transfer(obuf, nbytes=min(obuf.nbytes, _whole_beats(n_out)))
            self.accel.start(logits)

        def send(self, ibuf, start: int, nbytes: int, wait: bool = True) -> None:
            """One MM2S transfer of ibuf[start:start + nbytes] (the caller flushed ibuf); with wait, its
            completion awaited (bounded by the timeout) so that the next transfer may follow."""
            self.dma.sendchannel.transfer(ibuf, start=start, nbytes=nbytes)
            if wait:
                self._until(lambda: self.dma.sendchannel.idle, "the input stream (MM2S) to be taken")

        def finish_run(self, obuf, allow=()) -> int:
            """Await the end of the run: ap_done, the S2MM channel idle, obuf invalidated; then the
            checks (ERROR, the byte count, the MM2S channel idle, STATUS). Raises after recovering."""
            self._until(lambda: self.accel.ctrl()["ap_done"], "the engine to finish (CTRL.ap_done)")
            err = self.accel.error_code()
            if err:
                self.recover()
                raise run_error(err)
            self._until(lambda: self.dma.recvchannel.idle, "the output stream (S2MM) to end")
            self.dma.recvchannel.wait()  # idle already: PYNQ's wait then invalidates and reads the length
            obuf.invalidate()
            got = int(self.dma.recvchannel.transferred)
            self.last_cycles = self.accel.cycles()
            n_out = self.config.out_bytes(self._logits)
            stuck = not self.dma.sendchannel.idle
            bits = self.accel.status_bits()
            self.last_status = bits
            self.accel.clear_status()
            self.accel.acknowledge()
            if stuck:  # input beats the engine did not take (a frame longer than the image)
                self.recover()
                raise StatusError(bits or ["input left over"], _status_docs(),
                                  "the input stream (MM2S) still holds beats after the run: the DMA was reset")
            if got not in (n_out, _whole_beats(n_out)):
                raise DmaError(f"the output frame was {got} bytes, expected {n_out}")
            unexpected = [b for b in bits if b not in allow]
            if unexpected:
                raise StatusError(unexpected, _status_docs())
            return got

        def _until(self, cond, what: str) -> None:
            """Poll cond() until it holds; past the run's deadline: recover and raise AcceleratorTimeout.
            A DMA channel reporting an error (read every ERROR_POLLS polls) raises DmaError (after
            recovering)."""
            deadline = self._t0 + self.timeout
            polls = 0
            while not cond():
                polls += 1
                for name in ("sendchannel", "recvchannel") if polls % ERROR_POLLS == 0 else ():
                    ch = getattr(self.dma, name)
                    if ch.error:
                        sr = self.dma.read(DMA_MM2S_DMASR if name == "sendchannel" else DMA_S2MM_DMASR)
                        self.recover()
                        raise DmaError(f"the DMA's {name} reports an error (DMASR {sr:#x}): the DMA was reset")
                if self.clock() > deadline:
                    done = self.recover()
                    raise AcceleratorTimeout(f"waited {self.timeout:.3g} s for {what}; {done}")

        def recover(self) -> str:
            """Return the hardware to a clean idle state: abort the engine if it runs (CTRL.abort),
            soft-reset the DMA if a channel is busy, acknowledge the interrupt, clear STATUS. Returns
            what it did. Raises AcceleratorError when the engine does not stop."""
            did = []
            if not self.accel.idle():
                self.accel.abort()
                for _ in range(RESET_POLLS):
                    if self.accel.idle():
                        break
                else:
                    raise AcceleratorError("the engine did not stop after CTRL.abort: reload the bitstream "
                                           "(UnetOverlay.download())")
                did.append("the run was aborted (CTRL.abort)")
            if not (self.dma.sendchannel.idle or _halted_or_fresh(self.dma.sendchannel)) or \
                    not (self.dma.recvchannel.idle or _halted_or_fresh(self.dma.recvchannel)) or \
                    self.dma.sendchannel.error or self.dma.recvchannel.error:
                self.reset_dma()
                did.append("the DMA was reset (DMACR.Reset)")
            self.accel.acknowledge()
            self.accel.clear_status()
            return ", ".join(did) or "nothing was running"

        def reset_dma(self) -> None:
            """Soft-reset the AXI DMA (both channels; PG021 MM2S_DMACR.Reset), then start both channels."""
            self.dma.write(DMA_MM2S_DMACR, DMACR_RESET)
            for _ in range(RESET_POLLS):
                if not self.dma.read(DMA_MM2S_DMACR) & DMACR_RESET:
                    break
            else:
                raise DmaError("the AXI DMA did not come out of its soft reset")
            self.dma.sendchannel.start()
            self.dma.recvchannel.start()

        def _check_dma_idle_for_start(self) -> None:
            for name in ("sendchannel", "recvchannel"):
                ch = getattr(self.dma, name)
                if not ch.running or ch.error:
                    self.reset_dma()
                    return

        # --- pictures ---------------------------------------------------------------------------
        def _frames(self, image, overlap: int):
            h, w, c = self.config.input_shape
            img = np.asarray(image)
            if img.ndim == 2 and c == 1:
                img = img[..., None]
            if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != c:
                raise AcceleratorError(f"image of shape {img.shape} and type {img.dtype}: expected H x W x {c} uint8")
            plan = tiling.plan(img.shape[0], img.shape[1], (h, w), overlap)
            return plan, tiling.tiles(img.transpose(2, 0, 1), plan)

        def _run_tile(self, chw: np.ndarray, logits: bool) -> np.ndarray:
            h, w, _ = self.config.input_shape
            n_in = self.config.in_bytes
            self.ibuf[:n_in] = np.ascontiguousarray(chw.transpose(1, 2, 0)).reshape(-1)
            self.execute_on_buffers(self.ibuf, self.obuf, logits)
            n = self.config.out_bytes(logits)
            if logits:
                return self.obuf[:n].view(np.int8).reshape(h, w, self.config.num_classes).copy()
            return np.array(self.obuf[:n]).reshape(h, w)

        def infer(self, image, overlap: int = 0) -> np.ndarray:
            """The class map (H x W uint8) of an H x W x C uint8 picture of any size: tiled as
            `unetaccel infer` does (unetaccel.tiling), each tile a run, the maps stitched."""
            plan, tiles = self._frames(image, overlap)
            return tiling.stitch(np.stack([self._run_tile(t, False) for t in tiles]), plan).astype(np.uint8)

        def infer_logits(self, image, overlap: int = 0) -> np.ndarray:
            """The logits (H x W x K int8 codes) of a picture of any size, stitched by the same rule."""
            plan, tiles = self._frames(image, overlap)
            maps = np.stack([self._run_tile(t, True) for t in tiles])
            return np.stack([tiling.stitch(maps[..., k], plan) for k in range(maps.shape[-1])], axis=-1)

        def throughput_test(self, frames: int = 10, logits: bool = False) -> dict:
            """Frames back to back through execute_on_buffers (the buffers as they are): FINN's keys
            (runtime[ms], throughput[images/s], DRAM_in/out_bandwidth[MB/s], fclk[mhz], batch_size)
            plus ms a frame and the engine's own cycles a frame (CYCLES)."""
            n_out = self.config.out_bytes(logits)
            t = self.clock()
            for _ in range(frames):
                self.execute_on_buffers(self.ibuf, self.obuf, logits)
            runtime = self.clock() - t
            return {"runtime[ms]": runtime * 1e3, "throughput[images/s]": frames / runtime,
                    "ms_per_frame": runtime * 1e3 / frames,
                    "DRAM_in_bandwidth[MB/s]": self.config.in_bytes * frames / runtime / 1e6,
                    "DRAM_out_bandwidth[MB/s]": n_out * frames / runtime / 1e6,
                    "fclk[mhz]": self.config.clock_mhz, "batch_size": frames,
                    "cycles_per_frame[rtl]": self.last_cycles,
                    "cycles_per_frame[dma]": runtime * self.config.clock_mhz * 1e6 / frames}

        def expected_cycles(self, logits: bool = False) -> int | None:
            return None if self.net is None else expected_cycles(self.net, self.config, logits)

        # --- parameters -------------------------------------------------------------------------
        def load_weights(self, ir) -> int:
            """Write an IR's parameters (same shapes as the built network) through the RTL's run-time
            load path (WLOAD_ADDR / WLOAD_DATA, docs/registers.md), region by region, checking
            WLOAD_ADDR's index and WLOAD_STATUS after each. Returns the words written."""
            from ..codegen.rtl_project import load_words, tables
            from ..ir.graph import IRError
            if self.config.ip != "rtl" or not self.accel.has("WLOAD_DATA"):
                raise AcceleratorError(f"the {self.config.ip} IP has no run-time load path (WLOAD_*): its "
                                       "parameters are compiled in")
            net = _load_ir(ir)
            if not self.accel.idle():
                raise AcceleratorError("the engine is busy: parameters load only while it is idle")
            rows = tables(net, self.config.lanes)[3]
            if self.accel.has("NUM_LAYERS") and self.accel.read_reg("NUM_LAYERS") != len(rows):
                raise LoadRefused(f"{net.name}: {len(rows)} layer-table rows, the IP has "
                                  f"{self.accel.read_reg('NUM_LAYERS')}: not the network the bitstream was built for")
            wbits = regmap.unpack("CONFIG", self.accel.read_reg("CONFIG"))["weight_bits"] or None
            try:
                words = load_words(net, self.config.lanes, wbits=wbits)
            except IRError as e:
                raise LoadRefused(str(e)) from None
            from ..codegen.rtl_project import weight_parts
            parts = weight_parts(self.config.lanes, wbits) if wbits else 1
            n = 0
            for name, region in regmap.WLOAD_REGIONS.items():
                data = words[name]
                self.accel.write_reg("WLOAD_ADDR", regmap.pack("WLOAD_ADDR", region=region))
                for v in data.tolist():
                    self.accel.write_reg("WLOAD_DATA", int(v))
                n += len(data)
                if regmap.unpack("WLOAD_STATUS", self.accel.read_reg("WLOAD_STATUS"))["refused"]:
                    raise LoadRefused(f"{net.name}: WLOAD_STATUS.refused after the {name} region "
                                      f"({len(data)} words): a value does not fit the RTL's memories")
                entries = len(data) // parts if name == "weights" else len(data)
                got = regmap.unpack("WLOAD_ADDR", self.accel.read_reg("WLOAD_ADDR"))
                if got != {"index": entries, "region": region}:
                    raise LoadRefused(f"{net.name}: WLOAD_ADDR reads {got} after the {name} region, expected "
                                      f"index {entries}")
            self.net = net
            return n

    return UnetAccel, UnetOverlay


def _whole_beats(n: int) -> int:
    return int(n) + (-int(n) % 4)


def _halted_or_fresh(ch) -> bool:
    """A started channel that has had no transfer yet reads neither idle nor busy (PYNQ's
    _first_transfer): nothing to reset."""
    return bool(getattr(ch, "_first_transfer", False))


def _status_docs() -> dict[str, str]:
    return {n: f.doc for n, f in _fields("STATUS").items()}


def _load_ir(ir):
    if ir is None:
        return None
    if isinstance(ir, (str, Path)):
        from .. import ir as irmod
        return irmod.load(ir)
    return ir
