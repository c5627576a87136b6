"""FSIC's PYNQ-Z2 board design, simulated: the ARM's side of BUILD/fsic/sim/tb_board.v (cocotb).

tb_board.v holds the RTL of the programmable logic FSIC's board design builds (Caravel with our
USER_PRJ0, FSIC's FPGA side ps_axil, the emulated SPI flash); this module is everything the ARM
reaches through the PS7's GP0 port, as `SimFsicBoard(dut, hwh)`:

- ps_axil_0 (s_axi, 0x6000_0000): real AXI-Lite transactions on tb_board's s_axi_* (LiteMaster,
  full 32-bit addresses as the interconnect passes them); a transaction that gets
  no answer in BUS_TIMEOUT_CYCLES raises BoardError (on the board the ARM would hang: a read of a
  Caravel register over a link that is not up);
- axi_dma_0: unetaccel.rtl_sim.pynq_board's AXI DMA model (PG021 simple mode) on ps_axil's user-DMA
  streams (MM2S into updma_si, updma_so into S2MM), with its DDR behind a write-back cache;
- axi_quad_spi_0: SimQspi, the registers of PG153's AXI Quad SPI in standard mode that FSIC's
  notebook uses (SRR, SPICR, SPISR, DTR, DRR, SSR, the FIFO occupancies; FIFOs of 16), shifting
  bytes out MSB first on tb_board's qspi_* pins (mode 0, SCK = clk / C_SCK_RATIO = 8, as FSIC's design);
- output_pin_0 (0x10 bit 0: Caravel's resetb) and caravel_ps_0 (0x1C / 0x20 the pads Caravel drives,
  0x34 / 0x38 their enables): the registers of FSIC's two HLS IPs, read from and driving tb_board's pins.

`board.module()` is the stand-in `pynq` (pynq_board's: Overlay from the .hwh, MMIO, allocate,
pynq.lib.dma), so unetaccel.pynq.fsic runs unchanged in a thread started by cocotb.task.bridge.
"""
from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, RisingEdge, Timer, with_timeout

from ..codegen.fsic_board import CLOCK_HZ  # clk_wiz_0/clk_out1 in FSIC's board design
from ..pynq.fsic import INSTANCES
from ..rtl_sim.pynq_board import BoardError, Hwh, Memory, PsSide, SimDma

SCK_RATIO = 8  # axi_quad_spi_0's C_SCK_RATIO in FSIC's board design
QSPI_FIFO = 16  # its FIFO depth (the IP's default)
BUS_TIMEOUT_CYCLES = 200_000  # 40 ms at 5 MHz
# cycles before each register access: a PYNQ MMIO call from Python takes about a microsecond (an
# estimate, as pynq_board.PYTHON_CYCLES at 100 MHz) and GP0 adds a little: 6 cycles of FSIC's 5 MHz
ACCESS_CYCLES = 6
# the instances the driver reaches, by its names (unetaccel.pynq.fsic.INSTANCES)
PS_AXIL, DMA, QSPI, OUTPIN, CARAVEL_PS = (INSTANCES[k] for k in ("fsic", "dma", "qspi", "reset", "pads"))

# PG153 register offsets and bits
SRR, SPICR, SPISR, DTR, DRR, SSR, TX_OCY, RX_OCY = 0x40, 0x60, 0x64, 0x68, 0x6C, 0x70, 0x74, 0x78
CR_SPE, CR_MASTER, CR_CPOL, CR_CPHA, CR_TXRST, CR_RXRST, CR_MANUAL_SS, CR_INHIBIT = \
    0x2, 0x4, 0x8, 0x10, 0x20, 0x40, 0x80, 0x100
SR_RX_EMPTY, SR_RX_FULL, SR_TX_EMPTY, SR_TX_FULL = 0x1, 0x2, 0x4, 0x8

log = logging.getLogger("unetaccel.fsic.board")


def resolve(value) -> int:
    """A signal's value with its unknown or high-impedance bits read as 0 (what a register that was
    never written gives the ARM on the board: some value, here 0)."""
    return int("".join(c if c in "01" else "0" for c in str(value)) or "0", 2)


class LiteMaster:
    """One AXI-Lite transaction at a time on <prefix>_* (what the PS7's GP0 does for one MMIO call).
    Not cocotbext-axi's AxiLiteMaster: its five channel coroutines wake every clock cycle, which
    under Icarus with a whole Caravel costs more than the design; this one sleeps until the
    slave's handshake signal rises."""

    def __init__(self, dut, prefix: str, clk):
        self.clk = clk
        self.s = {n: getattr(dut, f"{prefix}_{n}") for n in (
            "awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp", "bvalid", "bready",
            "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready")}
        for n in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
            self.s[n].value = 0

    async def _handshake(self, valid: str, ready: str) -> None:
        """Hold valid until an edge where ready is high, then drop it."""
        while True:
            if not self.s[ready].value.is_resolvable or not int(self.s[ready].value):
                await RisingEdge(self.s[ready])
            await RisingEdge(self.clk)
            if resolve(self.s[ready].value):
                break
        self.s[valid].value = 0

    async def write(self, addr: int, data: int) -> int:
        s = self.s
        s["awaddr"].value, s["wdata"].value, s["wstrb"].value = addr, data, 0xF
        s["awvalid"].value = s["wvalid"].value = 1
        s["bready"].value = 1
        aw = cocotb.start_soon(self._handshake("awvalid", "awready"))
        await self._handshake("wvalid", "wready")
        await aw
        await self._handshake("bready", "bvalid")
        return resolve(s["bresp"].value)

    async def read(self, addr: int) -> int:
        s = self.s
        s["araddr"].value = addr
        s["arvalid"].value = 1
        await self._handshake("arvalid", "arready")
        s["rready"].value = 1
        await self._handshake("rready", "rvalid")
        return resolve(s["rdata"].value)


class SimQspi:
    """axi_quad_spi_0 in standard SPI mode, master, manual slave select (what FSIC's notebook does)."""

    def __init__(self, board: "SimFsicBoard"):
        self.board, self.dut = board, board.dut
        self.reset()
        self.task = None
        self.bytes_sent = 0

    def reset(self):
        self.cr, self.ssr = 0x180, 0xFFFF_FFFF
        self.tx: deque[int] = deque()
        self.rx: deque[int] = deque()
        self.shifting = False
        self._pins()

    def _pins(self):
        self.dut.qspi_ss.value = self.ssr & 1
        self.dut.qspi_sck.value = 1 if self.cr & CR_CPOL else 0
        self.dut.qspi_io0.value = 0

    def read(self, off: int) -> int:
        if off == SPICR:
            return self.cr
        if off == SPISR:
            return ((SR_RX_EMPTY if not self.rx else 0) | (SR_RX_FULL if len(self.rx) >= QSPI_FIFO else 0)
                    | (SR_TX_EMPTY if not self.tx else 0) | (SR_TX_FULL if len(self.tx) >= QSPI_FIFO else 0))
        if off == DRR:
            return self.rx.popleft() if self.rx else 0
        if off == SSR:
            return self.ssr
        if off == TX_OCY:
            return max(len(self.tx) - 1, 0)
        if off == RX_OCY:
            return max(len(self.rx) - 1, 0)
        return 0

    def write(self, off: int, v: int) -> None:
        if off == SRR:
            if v == 0x0A:
                self.reset()
        elif off == SPICR:
            if v & CR_TXRST:
                self.tx.clear()
            if v & CR_RXRST:
                self.rx.clear()
            self.cr = v & ~(CR_TXRST | CR_RXRST)
            self._kick()
        elif off == DTR:
            if len(self.tx) < QSPI_FIFO:
                self.tx.append(v & 0xFF)
            self._kick()
        elif off == SSR:
            self.ssr = v
            if self.cr & CR_MANUAL_SS:
                self.dut.qspi_ss.value = v & 1

    def _kick(self):
        go = self.cr & CR_SPE and self.cr & CR_MASTER and not self.cr & CR_INHIBIT and self.tx
        if go and (self.task is None or self.task.done()):
            self.task = cocotb.start_soon(self._shift())

    async def _shift(self):
        """Bytes out of the TX FIFO while the master is enabled and not inhibited (mode 0)."""
        half = SCK_RATIO // 2
        while self.tx and self.cr & CR_SPE and not self.cr & CR_INHIBIT:
            byte, got = self.tx.popleft(), 0
            if not self.cr & CR_MANUAL_SS:
                self.dut.qspi_ss.value = self.ssr & 1
            for bit in range(7, -1, -1):
                self.dut.qspi_io0.value = (byte >> bit) & 1
                await self.board.cycles(half)
                self.dut.qspi_sck.value = 1
                got = got << 1 | (int(self.dut.qspi_io1.value) if self.dut.qspi_io1.value.is_resolvable else 0)
                await self.board.cycles(half)
                self.dut.qspi_sck.value = 0
            self.bytes_sent += 1
            if len(self.rx) < QSPI_FIFO:
                self.rx.append(got)
            if not self.cr & CR_MANUAL_SS:
                self.dut.qspi_ss.value = 1


class SimFsicBoard(PsSide):
    """The PS7 side of FSIC's board design around tb_board (see the module's docstring)."""

    def __init__(self, dut, hwh):
        self.dut = dut
        self.hwh_path = Path(hwh)
        self.hwh = Hwh.parse(hwh)
        self.ip_dict_ = self.hwh.ip_dict()
        missing = [n for n in (PS_AXIL, DMA, QSPI, OUTPIN, CARAVEL_PS) if n not in self.ip_dict_]
        if missing:
            raise BoardError(f"{hwh}: the PS7's memory map has no range for {', '.join(missing)}")
        self.clk, self.rst = dut.clk, dut.peripheral_aresetn
        self.clock_hz, self.period_ns = float(CLOCK_HZ), 1e9 / CLOCK_HZ
        self.reset_active_low = True
        self.memory = Memory()
        self.events: list[tuple] = []
        self.accesses = 0
        self._now = 0.0
        self.rst.value = 0  # held in reset until power_on
        self.axil: LiteMaster | None = None  # made by power_on
        mm2s = {"TDATA": dut.mm2s_tdata, "TVALID": dut.mm2s_tvalid, "TREADY": dut.mm2s_tready,
                "TLAST": dut.mm2s_tlast, "TKEEP": dut.mm2s_tkeep}
        s2mm = {"TDATA": dut.s2mm_tdata, "TVALID": dut.s2mm_tvalid, "TREADY": dut.s2mm_tready,
                "TLAST": dut.s2mm_tlast, "TKEEP": dut.s2mm_tkeep}
        self.dma = SimDma(self, self.ip_dict_[DMA]["parameters"], mm2s, s2mm)
        self.qspi = SimQspi(self)
        self.outpin = 0
        dut.caravel_resetb.value = 0
        self.slaves = {n: self.ip_dict_[n] for n in (PS_AXIL, DMA, QSPI, OUTPIN, CARAVEL_PS)}
        self._module = None

    # --- time and reset -------------------------------------------------------------------------
    async def power_on(self) -> None:
        for n in ("awvalid", "wvalid", "arvalid", "bready", "rready"):
            getattr(self.dut, f"s_axi_{n}").value = 0
        await Timer(1, "us")  # tb_board's power-on reset (its clocks start at 1 us)
        self.axil = LiteMaster(self.dut, "s_axi", self.clk)
        await self.reset_pl()

    async def reset_pl(self) -> None:
        """Loading the bitstream: every PL block reset, output_pin_0 back to 0 (Caravel held in reset)."""
        self.rst.value = 0
        self.outpin = 0
        self.dut.caravel_resetb.value = 0
        self.dma.soft_reset()
        self.qspi.reset()
        await ClockCycles(self.clk, 16)
        self.rst.value = 1
        await ClockCycles(self.clk, 4)
        self._now = get_sim_time("ns") * 1e-9

    # --- the bus ---------------------------------------------------------------------------------
    async def _axil(self, coro, what: str):
        try:
            return await with_timeout(coro, BUS_TIMEOUT_CYCLES * self.period_ns, "ns")
        except cocotb.triggers.SimTimeoutError:
            raise BoardError(f"{what}: ps_axil gave no answer in {BUS_TIMEOUT_CYCLES} cycles (on the board the ARM "
                             "hangs: a Caravel register read over a serial link that is not up?)") from None

    async def bus_read(self, addr: int) -> int:
        name, off = self._slave(addr)
        self.accesses += 1
        await self.cycles(ACCESS_CYCLES)
        if name == PS_AXIL:
            v = await self._axil(self.axil.read(addr), f"a read of {addr:#010x}")
        else:
            await self.cycles(2)
            v = self._local_read(name, off)
        self._now = get_sim_time("ns") * 1e-9
        return v

    async def bus_write(self, addr: int, value: int) -> None:
        name, off = self._slave(addr)
        self.accesses += 1
        await self.cycles(ACCESS_CYCLES)
        if name == PS_AXIL:
            await self._axil(self.axil.write(addr, value & 0xFFFFFFFF), f"a write of {addr:#010x}")
        else:
            await self.cycles(2)
            self._local_write(name, off, value & 0xFFFFFFFF)
        self._now = get_sim_time("ns") * 1e-9

    def _pads(self, sig, high: bool) -> int:
        word = resolve(sig.value)  # unknown or high-impedance pads read 0
        return (word >> 32) & 0x3F if high else word & 0xFFFF_FFFF

    def _local_read(self, name: str, off: int) -> int:
        if name == DMA:
            return self.dma.read(off)
        if name == QSPI:
            return self.qspi.read(off)
        if name == OUTPIN:
            return self.outpin if off == 0x10 else 0
        if off in (0x1C, 0x20):  # caravel_ps_0: ps_mprj_out
            return self._pads(self.dut.caravel_mprj_o, off == 0x20)
        if off in (0x34, 0x38):
            return self._pads(self.dut.caravel_mprj_en, off == 0x38)
        return 0

    def _local_write(self, name: str, off: int, v: int) -> None:
        if name == DMA:
            self.dma.write(off, v)
        elif name == QSPI:
            self.qspi.write(off, v)
        elif name == OUTPIN and off == 0x10:
            self.outpin = v & 1
            self.dut.caravel_resetb.value = v & 1
            self.events.append(("caravel resetb", v & 1, self.cycle()))


# ------------------------------------------------------------------------------------------------
# the simulated board's hardware handoff
# ------------------------------------------------------------------------------------------------
#: VLNVs of the instances the driver reaches (the addresses are codegen.fsic_board's, as in
#: fsic_board.json: one place).
VLNVS = {CARAVEL_PS: "xilinx.com:hls:caravel_ps:0.0", OUTPIN: "xilinx.com:hls:output_pin:0.0",
         DMA: "xilinx.com:ip:axi_dma:7.1", QSPI: "xilinx.com:ip:axi_quad_spi:3.2",
         PS_AXIL: "xilinx.com:module_ref:ps_axil:1.0", "axi_intc_0": "xilinx.com:ip:axi_intc:4.1"}


def board_map() -> dict[str, tuple[str, int, int, str]]:
    """instance -> (VLNV, base, range, slave interface) of every register range the ARM sees in
    the board design (codegen.fsic_board's map; ps_axil's ladma_s range left out: nothing here
    uses it)."""
    from ..codegen.fsic_board import FSIC_ADDRESSES, OUR_ADDRESSES
    out = {}
    for inst, bus, base, size in {**FSIC_ADDRESSES, **OUR_ADDRESSES}.values():
        if inst not in out:
            out[inst] = (VLNVS[inst], base, size, bus)
    return out


def board_hwh(dma_length_bits: int) -> str:
    """A .hwh of the board design as the simulated board and PYNQ's Overlay read it: the PS7's memory
    map and each IP's VLNV and parameters (the DMA's simple mode, its length register's width)."""
    bmap = board_map()
    ranges = "".join(
        f'        <MEMRANGE ADDRESSBLOCK="reg0" BASENAME="C_BASEADDR" BASEVALUE="{base:#010x}" '
        f'HIGHNAME="C_HIGHADDR" HIGHVALUE="{base + size - 1:#010x}" INSTANCE="{inst}" IS_DATA="TRUE" '
        f'IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="{bus}"/>\n'
        for inst, (_, base, size, bus) in sorted(bmap.items(), key=lambda kv: kv[1][1]))
    dma_params = {"C_INCLUDE_SG": 0, "C_INCLUDE_MM2S": 1, "C_INCLUDE_S2MM": 1, "C_SG_LENGTH_WIDTH": dma_length_bits,
                  "C_M_AXI_MM2S_DATA_WIDTH": 32, "C_M_AXI_S2MM_DATA_WIDTH": 32, "C_INCLUDE_MM2S_DRE": 0,
                  "C_INCLUDE_S2MM_DRE": 0}
    mods = []
    for inst, (vlnv, *_rest) in sorted(bmap.items()):
        params = dma_params if inst == DMA else {}
        ptext = "".join(f'        <PARAMETER NAME="{k}" VALUE="{v}"/>\n' for k, v in params.items())
        ptext += "".join(f'        <PARAMETER NAME="{k.lower()}" VALUE="{v}"/>\n' for k, v in params.items())
        mods.append(f'    <MODULE FULLNAME="/{inst}" INSTANCE="{inst}" MODTYPE="{vlnv.split(":")[2]}" '
                    f'VLNV="{vlnv}">\n      <PARAMETERS>\n{ptext}      </PARAMETERS>\n    </MODULE>\n')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
            '<!-- the simulated board\'s handoff (unetaccel.fsic.board); on the board PYNQ reads Vivado\'s -->\n'
            '<EDKSYSTEM>\n  <MODULES>\n'
            '    <MODULE FULLNAME="/processing_system7_0" INSTANCE="processing_system7_0" MODTYPE="processing_system7" '
            'VLNV="xilinx.com:ip:processing_system7:5.5">\n      <MEMORYMAP>\n'
            f'{ranges}      </MEMORYMAP>\n    </MODULE>\n' + "".join(mods) + '  </MODULES>\n</EDKSYSTEM>\n')
