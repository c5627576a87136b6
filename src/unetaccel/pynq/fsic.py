"""The ARM side of unetaccel in FSIC on a PYNQ-Z2 (docs/fsic_board.md): NumPy and `pynq` only.

    from unetaccel.pynq.fsic import FsicOverlay
    ol = FsicOverlay("fsic_unet.bit", ir="model.json")   # the .hwh beside the bitstream
    ol.boot("board.hex")                                 # firmware into the flash, Caravel up, the link up
    classes = ol.infer(picture)                          # H x W x C uint8, the network's own size

What FSIC's notebook (caravel_fpga_fsic.ipynb) does by hand, as methods: `load_firmware` writes
the firmware (BUILD/fsic/firmware/board.c, built as a Verilog hex by objcopy) into the emulated
SPI flash through axi_quad_spi_0 and Caravel's housekeeping pass-through (command 0xC4, then a
page-program 0x02 from address 0); ending the pass-through restarts the management core on the new
firmware. `link_up` waits for the firmware's mprj_io[37] (read through caravel_ps_0: the firmware
has turned Caravel's io_serdes on), turns ps_axil's io_serdes on (receive, then transmit: PL_IS = 1,
3, 10 us apart as FSIC's board testbench) and says HELLO through FSIC's mailbox; the firmware
answers UP. Each inference is a mailbox command: the firmware starts the run and answers
READY, the AXI DMA streams the image into ps_axil's user-DMA port (through io_serdes into
USER_PRJ0) and takes the class map (or the logits) back, the firmware reports status, error code
and cycles, then DONE. Every wait has a timeout (AcceleratorTimeout).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .errors import AcceleratorError, AcceleratorTimeout, DeploymentError, DmaError, run_error

# ps_axil_0's map (offsets from its base; FSIC's notebook names them)
PL_AA_MB, PL_IS = 0x2000, 0x7000
# the mailbox (board.c's header): the ARM writes CMD, the firmware the rest
MB_CMD, MB_READY, MB_STATUS, MB_ERROR, MB_CYC_LO, MB_CYC_HI, MB_DONE, MB_STATE = range(0, 0x20, 4)
OP_CLASSES, OP_LOGITS, OP_HELLO = 1, 2, 3
BOARD_UP, BOARD_FAIL, BOARD_BAD = 0x554E0000, 0x554EF000, 0x554EB000
#: unet_driver.h's return codes, as the firmware reports them
DRIVER_CODES = {0: "UNET_OK", -1: "UNET_EBUSY", -2: "UNET_EHW", -3: "UNET_ETIMEOUT", -4: "UNET_EID",
                -5: "UNET_EREFUSED"}
# axi_quad_spi_0 (PG153) as FSIC's notebook drives it
SRR, SPICR, SPISR, DTR, SSR = 0x40, 0x60, 0x64, 0x68, 0x70
CR_SPE, CR_MASTER, CR_TXRST, CR_RXRST, CR_MANUAL_SS, CR_INHIBIT = 0x2, 0x4, 0x20, 0x40, 0x80, 0x100
SR_TX_EMPTY = 0x4
QSPI_FIFO = 16
PASS_THROUGH, PAGE_PROGRAM = 0xC4, 0x02
#: FSIC's flash model counts the bytes of one transfer in 13 bits: command and address (4) + data
FLASH_MAX_BYTES = (1 << 13) - 1 - 4
CLOCK_HZ = 5_000_000  # Caravel's and ps_axil's clock in FSIC's board design
BOARD_JSON = "fsic_board.json"  # beside the bitstream (BUILD/fsic/vivado)
LINK_SETTLE_S = 200e-6  # from the firmware's mprj_io[37] to ps_axil's receiver on (link_up)
INSTANCES = {"fsic": "ps_axil_0", "dma": "axi_dma_0", "qspi": "axi_quad_spi_0", "reset": "output_pin_0",
             "pads": "caravel_ps_0"}


def read_hex(path) -> bytes:
    """The bytes of an objcopy `-O verilog` image (`@address` lines, then hex bytes), from address 0."""
    mem: dict[int, int] = {}
    addr = 0
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        for tok in line.split():
            if tok.startswith("@"):
                addr = int(tok[1:], 16)
                continue
            try:
                mem[addr] = int(tok, 16) & 0xFF
            except ValueError:
                raise DeploymentError(f"{path}:{n}: {tok!r} is not a hex byte (expected objcopy -O verilog)") from None
            addr += 1
    if not mem:
        raise DeploymentError(f"{path}: no bytes (expected objcopy -O verilog output)")
    out = bytearray(max(mem) + 1)
    for a, v in mem.items():
        out[a] = v
    return bytes(out)


class FsicOverlay:
    """FSIC's board design with unetaccel as user project 0 (see the module's docstring).

    bitfile: the bitstream (its .hwh beside it, as PYNQ needs; fsic_board.json beside it, when
    there, gives the lanes and the clock for the default timeout). ir: the IR (a path or a loaded
    IR): the image and output sizes. timeout: seconds one wait may take (default: 50 frames at
    the board's clock, at least 1 s). clock: the time source of the timeouts (time.monotonic; the
    simulated board passes its own)."""

    def __init__(self, bitfile, ir, timeout: float | None = None, clock=time.monotonic, download: bool = True):
        import pynq
        self._pynq = pynq
        from .driver import _load_ir
        self.net = _load_ir(ir)
        if self.net is None:
            raise DeploymentError("FsicOverlay needs the IR (ir=...): it gives the image and result sizes")
        self.overlay = pynq.Overlay(str(bitfile), download=download)
        ipd = self.overlay.ip_dict
        missing = [n for n in INSTANCES.values() if n not in ipd]
        if missing:
            raise DeploymentError(f"{bitfile}: the block design has no {', '.join(missing)} (IP blocks: "
                                  f"{', '.join(sorted(ipd))}): is it FSIC's board design with unetaccel's data path?")
        mm = {k: pynq.MMIO(ipd[n]["phys_addr"], ipd[n]["addr_range"]) for k, n in INSTANCES.items() if k != "dma"}
        self.fsic, self.qspi, self.reset, self.pads = mm["fsic"], mm["qspi"], mm["reset"], mm["pads"]
        self.dma = getattr(self.overlay, INSTANCES["dma"])
        self.clock = clock
        c, h, w = self.net.tensors[self.net.input].shape
        self.input_shape = (h, w, c)
        self.num_classes = self.net.num_classes
        self.in_bytes, self.class_bytes, self.logit_bytes = h * w * c, h * w, h * w * self.num_classes
        from ..ir.ops import ideal_cycles
        desc = Path(bitfile).with_name(BOARD_JSON)
        try:
            cfg = json.loads(desc.read_text()) if desc.is_file() else {}
        except ValueError as e:
            raise DeploymentError(f"{desc}: not JSON ({e})") from None
        lanes = tuple(cfg.get("lanes", (8, 8)))
        hz = float(cfg.get("clock_hz", CLOCK_HZ))
        frame = sum(ideal_cycles(self.net, lay, lanes) for lay in self.net.layers) / hz
        self.timeout = float(timeout) if timeout is not None else max(50 * frame, 1.0)
        self.ibuf = pynq.allocate(shape=(-(-self.in_bytes // 4) * 4,), dtype=np.uint8)
        self.obuf = pynq.allocate(shape=(-(-max(self.class_bytes, self.logit_bytes) // 4) * 4,), dtype=np.uint8)
        self.seq = 0
        self.last: dict = {}

    # --- bring-up ---------------------------------------------------------------------------------
    def boot(self, firmware) -> None:
        """load_firmware, then link_up: the board ready for inferences."""
        self.load_firmware(firmware)
        self.link_up()

    def _spi_push(self, data: bytes) -> None:
        for i in range(0, len(data), QSPI_FIFO):
            for b in data[i:i + QSPI_FIFO]:
                self.qspi.write(DTR, b)
            self.qspi.write(SPICR, self.qspi.read(SPICR) & ~CR_INHIBIT)
            self._until(lambda: self.qspi.read(SPISR) & SR_TX_EMPTY, "the quad SPI to send its FIFO")
            self.qspi.write(SPICR, self.qspi.read(SPICR) | CR_INHIBIT)

    def load_firmware(self, firmware) -> int:
        """The firmware (an objcopy -O verilog hex file, or its bytes) into the flash through Caravel's
        pass-through; Caravel restarts on it when the pass-through ends. Returns the bytes written."""
        image = firmware if isinstance(firmware, (bytes, bytearray)) else read_hex(firmware)
        if len(image) > FLASH_MAX_BYTES:
            raise DeploymentError(f"the firmware has {len(image)} bytes: FSIC's flash model takes at most "
                                  f"{FLASH_MAX_BYTES} in one write")
        image = bytes(image) + bytes(-len(image) % 4)
        self.reset.write(0x10, 1)  # Caravel out of reset first (the pass-through then holds its CPU)
        self.qspi.write(SRR, 0x0A)
        self.qspi.write(SSR, 0xFFFF_FFFF)
        self.qspi.write(SPICR, CR_MASTER | CR_MANUAL_SS | CR_SPE | CR_TXRST | CR_RXRST | CR_INHIBIT)
        self.qspi.write(SSR, 0xFFFF_FFFE)
        self._spi_push(bytes([PASS_THROUGH, PAGE_PROGRAM, 0, 0, 0]) + image)
        self.qspi.write(SSR, 0xFFFF_FFFF)  # the pass-through ends: the management core boots
        return len(image)

    def link_up(self) -> None:
        """Wait for the firmware (mprj_io[37]), turn ps_axil's io_serdes on, HELLO / UP through the mailbox."""
        self._until(lambda: self.pads.read(0x20) >> 5 & 1, "the firmware to raise mprj_io[37] (is it running?)")
        # Caravel's transmitter runs from before the pad rose; ps_axil's receiver is turned on
        # only once its clock has run a while (turned on within microseconds of it, ps_axil's
        # side received out of step in simulation and passed nothing on)
        self._pause(LINK_SETTLE_S)
        self.fsic.write(PL_IS, 1)  # receive
        self._pause(10e-6)  # as FSIC's board testbench: 10 us, then transmit, 10 us
        self.fsic.write(PL_IS, 3)
        self._pause(10e-6)
        self.seq += 1
        self.fsic.write(PL_AA_MB + MB_CMD, self.seq << 8 | OP_HELLO)
        self._until(lambda: self.fsic.read(PL_AA_MB + MB_STATE) >> 12 in (BOARD_UP >> 12, BOARD_FAIL >> 12),
                    "the firmware's answer to HELLO (the serial link)")
        state = self.fsic.read(PL_AA_MB + MB_STATE)
        if state >> 12 == BOARD_FAIL >> 12:
            code = -(state & 0xFFF)
            raise DeploymentError(f"the firmware does not find the accelerator in user project 0 "
                                  f"({DRIVER_CODES.get(code, code)}): is config_ctrl's user_prj_sel 0?")

    # --- runs -------------------------------------------------------------------------------------
    def _pause(self, seconds: float) -> None:
        """At least `seconds` by the clock, reading a register meanwhile (on the simulated board
        time passes only with the driver's accesses)."""
        t0 = self.clock()
        while self.clock() - t0 < seconds:
            self.pads.read(0x20)

    def _until(self, cond, what: str) -> None:
        t0 = self.clock()
        while not cond():
            if self.clock() - t0 > self.timeout:
                raise AcceleratorTimeout(f"no {what} in {self.timeout:.3f} s")

    def run(self, image, logits: bool = False) -> np.ndarray:
        """One image (H x W x C uint8, the network's size) through USER_PRJ0; the class map (H x W)
        or the logits (H x W x K int8). self.last holds the firmware's report."""
        img = np.asarray(image)
        if img.shape != self.input_shape or img.dtype != np.uint8:
            raise ValueError(f"image {img.shape} {img.dtype}: the network takes {self.input_shape} uint8 (H x W x C)")
        h, w, c = self.input_shape
        nout = self.logit_bytes if logits else self.class_bytes
        self.ibuf[:self.in_bytes] = img.reshape(-1)
        self.seq += 1
        seq = self.seq
        self.fsic.write(PL_AA_MB + MB_CMD, seq << 8 | (OP_LOGITS if logits else OP_CLASSES))
        self._until(lambda: self.fsic.read(PL_AA_MB + MB_READY) == seq or self.fsic.read(PL_AA_MB + MB_DONE) == seq,
                    f"READY for run {seq} from the firmware")
        if self.fsic.read(PL_AA_MB + MB_DONE) != seq:
            self.dma.recvchannel.transfer(self.obuf, nbytes=-(-nout // 4) * 4)
            self.dma.sendchannel.transfer(self.ibuf, nbytes=-(-self.in_bytes // 4) * 4)
            self._until(lambda: self.dma.sendchannel.idle, "end of the image's DMA transfer")
            self._until(lambda: self.dma.recvchannel.idle or self.dma.recvchannel.error, "the result's DMA transfer")
            if self.dma.recvchannel.error:
                raise DmaError("the S2MM channel stopped with an error (a result longer than expected?)")
            self.dma.recvchannel.wait()
        self._until(lambda: self.fsic.read(PL_AA_MB + MB_DONE) == seq, f"the firmware's report of run {seq}")
        rd = lambda off: self.fsic.read(PL_AA_MB + off)  # noqa: E731
        status = rd(MB_STATUS)
        status = status - (1 << 32) if status >> 31 else status
        self.last = {"seq": seq, "status": DRIVER_CODES.get(status, status), "error": rd(MB_ERROR),
                     "cycles": rd(MB_CYC_LO) | rd(MB_CYC_HI) << 32}
        if status != 0:
            if self.last["error"]:
                raise run_error(self.last["error"], f"the firmware reports {self.last['status']}")
            raise AcceleratorError(f"the firmware reports {self.last['status']} for run {seq}")
        out = np.array(self.obuf[:nout])
        return out.view(np.int8).reshape(h, w, self.num_classes) if logits else out.reshape(h, w)

    def infer(self, image) -> np.ndarray:
        """The class map (H x W uint8) of one image."""
        return self.run(image, logits=False)

    def infer_logits(self, image) -> np.ndarray:
        """The int8 logits (H x W x K) of one image."""
        return self.run(image, logits=True)
