"""A simulated PYNQ-Z2 around the generated IP: a stand-in `pynq` module over cocotb (docs/pynq.md).

`SimBoard(dut, hwh)` reads the block design's hardware handoff (.hwh) and models what the PYNQ
driver talks to: the PS7's general-purpose port (GP0: each register access is a real AXI-Lite
transaction on the IP's s_axi_control, by cocotbext-axi's AxiLiteMaster, after PYTHON_CYCLES
of the driver's Python and GP0_CYCLES of bus latency; the DMA's registers answer after the same), an AXI DMA in simple mode (PG021:
MM2S_DMACR/DMASR/SA/LENGTH, S2MM_*, the soft reset, halted / idle / error bits, a length
register of the .hwh's c_sg_length_width bits) driving the IP's s_axis and taking its m_axis, and
the DDR behind a write-back cache: `allocate` returns an ndarray subclass whose array is the CPU's
view, while the DMA reads and writes a separate "DRAM" copy; flush() copies the CPU view to DRAM,
invalidate() copies DRAM back. A DMA read of bytes whose CPU copy differs from DRAM is recorded
in `board.stale_reads` (a missing flush shows as stale data).

`board.module()` is the stand-in `pynq`: Overlay (ip_dict from the PS7's memory map, a driver by
VLNV through the DefaultIP `bindto` registry as PYNQ does, with and without the version),
DefaultIP (mmio, read, write), MMIO, allocate, UnsupportedConfiguration, and pynq.lib.dma.DMA
(sendchannel / recvchannel: transfer, wait, idle, running, error, start, stop, transferred, the
length check). `with board.installed():` puts it in sys.modules, so driver code that imports
`pynq` runs unchanged, synchronously, in a thread started by cocotb.task.bridge; each register
access blocks that thread in cocotb.task.resume while the simulator runs the bus cycles, so
simulated time advances while the driver polls. `board.now()` is the simulated time in seconds.

Why not cocotbpynq (0.2.0): its allocate returns a bare NumPy array (no flush, invalidate or
physical address, no cache), its DefaultIP is an empty class (a driver bound by VLNV is never
made), its reset waits on a clock named `clk`, its DMA drives no TKEEP and has no registers.
The streams here are driven beat by beat by this module (not cocotbext-axi's stream classes):
the DMA must hold TREADY low while no S2MM transfer is programmed, stop at the transfer's length,
and withdraw a beat in flight on a soft reset.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import threading
import types
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.task import resume
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

GP0_CYCLES = 16  # extra cycles of a register access through the PS7's GP0 port and interconnect (~0.2 us a read)
# cycles of Python before each register access: a PYNQ MMIO call from Python on the Zynq's 650 MHz A9 takes
# about a microsecond (an estimate, not measured here); it also keeps the simulated driver from polling
# every twenty cycles, which costs simulation time and no board does
PYTHON_CYCLES = 100
DMA_MEM_LATENCY = 24  # cycles from a LENGTH write to the first MM2S beat (HP0 read latency)
DMA_RESET_CYCLES = 8  # cycles MM2S_DMACR.Reset reads 1 after it was written
DRAM_BASE = 0x1800_0000  # where allocate() places buffers (the PYNQ-Z2's CMA region lies about there)
PAGE = 4096

# PG021 simple-mode register offsets (per channel: MM2S at 0x00, S2MM at 0x30)
DMACR, DMASR, ADDR, ADDR_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
CR_RS, CR_RESET = 1 << 0, 1 << 2
SR_HALTED, SR_IDLE, SR_INTERR, SR_SLVERR, SR_DECERR, SR_IOC, SR_ERR_IRQ = 1, 2, 0x10, 0x20, 0x40, 0x1000, 0x4000

log = logging.getLogger("unetaccel.pynq_board")


class BoardError(RuntimeError):
    """The simulated board cannot do what was asked (an address nothing answers, a malformed .hwh)."""


# ------------------------------------------------------------------------------------------------
# the .hwh
# ------------------------------------------------------------------------------------------------
@dataclass
class HwhModule:
    instance: str
    vlnv: str
    modtype: str
    parameters: dict[str, str]
    ports: dict[str, dict]  # name -> attributes (SIGIS, POLARITY, CLKFREQUENCY, DIR)
    buses: dict[str, dict]  # bus interface name -> {"busname", "type", "ports": {LOGICAL: PHYSICAL}}


@dataclass
class Hwh:
    """What the simulation reads from a .hwh: the modules (INSTANCE, VLNV, MODTYPE, PARAMETERS,
    PORTS, BUSINTERFACES with PORTMAPS) and the PS7's MEMORYMAP (MEMRANGE INSTANCE, BASEVALUE,
    HIGHVALUE, SLAVEBUSINTERFACE, MEMTYPE). Anything else is ignored."""
    modules: dict[str, HwhModule]
    memranges: list[dict]

    @classmethod
    def parse(cls, path) -> "Hwh":
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as e:
            raise BoardError(f"{path}: not a readable .hwh ({e})") from None
        modules = {}
        memranges = []
        for m in root.iter("MODULE"):
            inst = m.get("INSTANCE") or (m.get("FULLNAME") or "").lstrip("/")
            params = {p.get("NAME"): p.get("VALUE") for p in m.iter("PARAMETER") if p.get("NAME")}
            ports = {p.get("NAME"): dict(p.attrib) for p in m.findall("./PORTS/PORT") if p.get("NAME")}
            buses = {}
            for b in m.findall("./BUSINTERFACES/BUSINTERFACE"):
                buses[b.get("NAME")] = {"busname": b.get("BUSNAME"), "type": b.get("TYPE"),
                                        "ports": {pm.get("LOGICAL"): pm.get("PHYSICAL") for pm in b.iter("PORTMAP")}}
            modules[inst] = HwhModule(inst, m.get("VLNV", ""), m.get("MODTYPE", ""), params, ports, buses)
            if m.get("MODTYPE", "").startswith(("processing_system7", "zynq_ultra_ps")):
                for r in m.iter("MEMRANGE"):
                    memranges.append(dict(r.attrib))
        if not memranges:
            raise BoardError(f"{path}: no processing_system7 module with a MEMORYMAP: the driver cannot find any IP")
        return cls(modules, memranges)

    def ip_dict(self) -> dict[str, dict]:
        """PYNQ's ip_dict: every register range the PS7 sees, by instance (a second range of one
        instance as instance/interface), with its type (VLNV), address, range and parameters."""
        out: dict[str, dict] = {}
        for r in self.memranges:
            if r.get("MEMTYPE", "REGISTER").upper() == "MEMORY":
                continue
            inst = r.get("INSTANCE")
            mod = self.modules.get(inst)
            base, high = int(r["BASEVALUE"], 0), int(r["HIGHVALUE"], 0)
            name = inst if inst not in out else f"{inst}/{r.get('SLAVEBUSINTERFACE')}"
            out[name] = {"fullpath": name, "type": mod.vlnv if mod else "", "phys_addr": base,
                         "addr_range": high - base + 1, "mem_id": r.get("SLAVEBUSINTERFACE"),
                         "memtype": r.get("MEMTYPE", "REGISTER"), "parameters": dict(mod.parameters) if mod else {},
                         "registers": {}, "interrupts": {}, "gpio": {}, "state": None, "bdtype": None,
                         "driver": None, "device": None}
        return out

    def peer(self, inst: str, bus: str) -> tuple[str, str] | None:
        """(instance, interface) on the other end of inst's bus interface (the same BUSNAME)."""
        mod = self.modules.get(inst)
        if not mod or bus not in mod.buses or not mod.buses[bus]["busname"]:
            return None
        name = mod.buses[bus]["busname"]
        for m in self.modules.values():
            for b, d in m.buses.items():
                if d["busname"] == name and (m.instance, b) != (inst, bus):
                    return m.instance, b
        return None


# ------------------------------------------------------------------------------------------------
# DRAM behind a write-back cache
# ------------------------------------------------------------------------------------------------
@dataclass
class _Region:
    phys: int
    nbytes: int
    cpu: np.ndarray  # uint8 view of the CPU's array (the cache's view)
    dram: np.ndarray  # uint8: what the DMA sees
    freed: bool = False


class SimBuffer(np.ndarray):
    """pynq.allocate's buffer (PynqBuffer): the array is the CPU's (cached) view of the memory."""

    def __array_finalize__(self, obj):
        self._region = getattr(obj, "_region", None)

    def _span(self) -> tuple[_Region, int, int]:
        r = self._region
        if r is None:
            raise BoardError("not a buffer made by pynq.allocate (an array computed from one is not DMA memory)")
        if r.freed:
            raise BoardError(f"the buffer at {r.phys:#x} was freed")
        if not self.flags.c_contiguous:
            raise BoardError("a buffer slice that is not contiguous cannot be flushed or transferred")
        off = self.ctypes.data - r.cpu.ctypes.data
        return r, off, self.nbytes

    @property
    def physical_address(self) -> int:
        r, off, _ = self._span()
        return r.phys + off

    device_address = physical_address
    coherent = False
    cacheable = True

    def flush(self):
        """Write the CPU's view back to DRAM (before the DMA reads it)."""
        r, off, n = self._span()
        r.dram[off:off + n] = r.cpu[off:off + n]

    def invalidate(self):
        """Drop the CPU's view and read DRAM again (after the DMA wrote it)."""
        r, off, n = self._span()
        r.cpu[off:off + n] = r.dram[off:off + n]

    sync_to_device = flush
    sync_from_device = invalidate

    def freebuffer(self):
        if self._region is not None:
            self._region.freed = True

    close = freebuffer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.freebuffer()


class Memory:
    """The DDR as the DMA sees it: allocated regions by physical address."""

    def __init__(self):
        self.regions: list[_Region] = []
        self.next = DRAM_BASE
        self.stale_reads: list[dict] = []

    def allocate(self, shape, dtype="u4") -> SimBuffer:
        arr = np.zeros(shape, dtype=dtype)
        buf = arr.view(SimBuffer)
        cpu = arr.reshape(-1).view(np.uint8)
        region = _Region(self.next, arr.nbytes, cpu, np.zeros(arr.nbytes, np.uint8))
        self.next += -(-max(arr.nbytes, 1) // PAGE) * PAGE
        self.regions.append(region)
        buf._region = region
        return buf

    def find(self, addr: int, n: int) -> tuple[_Region, int] | None:
        for r in self.regions:
            if not r.freed and r.phys <= addr and addr + n <= r.phys + r.nbytes:
                return r, addr - r.phys
        return None

    def dma_read(self, addr: int, n: int) -> bytes | None:
        hit = self.find(addr, n)
        if hit is None:
            return None
        r, off = hit
        dram, cpu = r.dram[off:off + n], r.cpu[off:off + n]
        differ = int(np.count_nonzero(dram != cpu))
        if differ:
            self.stale_reads.append({"addr": addr, "bytes": n, "differing": differ})
            log.warning("DMA read %d bytes at %#x: %d differ from the CPU's cached copy (not flushed)", n, addr, differ)
        return dram.tobytes()

    def dma_write(self, addr: int, data: bytes) -> bool:
        hit = self.find(addr, len(data))
        if hit is None:
            return False
        r, off = hit
        r.dram[off:off + len(data)] = np.frombuffer(data, np.uint8)
        return True


# ------------------------------------------------------------------------------------------------
# the AXI DMA (PG021, simple mode)
# ------------------------------------------------------------------------------------------------
@dataclass
class _Channel:
    name: str
    base: int
    dmacr: int = 0x0001_0000
    halted: bool = True
    idle: bool = False
    errors: int = 0
    irq: int = 0
    addr: int = 0
    addr_msb: int = 0
    length: int = 0
    task: object = None
    transfers: list = field(default_factory=list)

    @property
    def dmasr(self) -> int:
        return (SR_HALTED if self.halted else 0) | (SR_IDLE if self.idle else 0) | self.errors | self.irq


class SimDma:
    """The AXI DMA's registers and its two stream engines."""

    def __init__(self, board: "SimBoard", params: dict, mm2s: dict, s2mm: dict):
        self.board = board
        self.clk = board.clk
        self.length_bits = int(params.get("c_sg_length_width") or params.get("C_SG_LENGTH_WIDTH") or 14)
        self.mm2s_sig, self.s2mm_sig = mm2s, s2mm
        self.mm2s, self.s2mm = _Channel("MM2S", 0x00), _Channel("S2MM", 0x30)
        self.reset_until = -1
        self.no_tlast_once = False  # test hook: the next MM2S transfer ends without TLAST (not a real DMA's)
        self._quiet()

    def _quiet(self):
        s, m = self.mm2s_sig, self.s2mm_sig
        s["TVALID"].value = 0
        s["TDATA"].value = 0
        s["TLAST"].value = 0
        if "TKEEP" in s:
            s["TKEEP"].value = 0
        m["TREADY"].value = 0

    def _channel(self, offset: int) -> tuple[_Channel, int]:
        return (self.s2mm, offset - 0x30) if offset >= 0x30 else (self.mm2s, offset)

    def read(self, offset: int) -> int:
        ch, reg = self._channel(offset)
        if reg == DMACR:
            return ch.dmacr | (CR_RESET if self.board.cycle() < self.reset_until else 0)
        if reg == DMASR:
            return ch.dmasr
        if reg == ADDR:
            return ch.addr
        if reg == ADDR_MSB:
            return ch.addr_msb
        if reg == LENGTH:
            return ch.length
        return 0

    def write(self, offset: int, value: int) -> None:
        ch, reg = self._channel(offset)
        if reg == DMACR:
            if value & CR_RESET:
                self.soft_reset()
                return
            ch.dmacr = value & ~CR_RESET
            if value & CR_RS:
                ch.halted = False
            else:
                self._stop(ch)
                ch.halted = True
        elif reg == DMASR:
            ch.irq &= ~(value & (SR_IOC | SR_ERR_IRQ))
        elif reg == ADDR:
            ch.addr = value
        elif reg == ADDR_MSB:
            ch.addr_msb = value
        elif reg == LENGTH:
            n = value & ((1 << self.length_bits) - 1)  # the register keeps its width; higher bits are lost
            ch.length = n
            if ch.halted or (ch.task is not None and not ch.task.done()):
                return  # PG021: a LENGTH write while halted or busy starts nothing
            if n == 0:
                self._error(ch, SR_INTERR)
                return
            ch.idle = False
            addr = ch.addr | ch.addr_msb << 32
            run = self._mm2s(addr, n) if ch is self.mm2s else self._s2mm(addr, n)
            ch.task = cocotb.start_soon(run)

    def _error(self, ch: _Channel, bit: int) -> None:
        ch.errors |= bit
        ch.irq |= SR_ERR_IRQ
        ch.halted = True
        ch.idle = False
        ch.dmacr &= ~CR_RS

    def _stop(self, ch: _Channel) -> None:
        if ch.task is not None and not ch.task.done():
            ch.task.cancel()
        ch.task = None
        if ch is self.mm2s:
            self.mm2s_sig["TVALID"].value = 0
        else:
            self.s2mm_sig["TREADY"].value = 0

    def soft_reset(self) -> None:
        """MM2S_DMACR.Reset (either channel's): both channels stop, a beat in flight is withdrawn,
        every register takes its reset value."""
        for ch in (self.mm2s, self.s2mm):
            self._stop(ch)
            ch.dmacr, ch.halted, ch.idle, ch.errors, ch.irq, ch.length = 0x0001_0000, True, False, 0, 0, 0
        self._quiet()
        self.reset_until = self.board.cycle() + DMA_RESET_CYCLES
        self.board.events.append(("dma reset", self.board.cycle()))

    async def _mm2s(self, addr: int, n: int):
        ch, s = self.mm2s, self.mm2s_sig
        data = self.board.memory.dma_read(addr, n)
        if data is None:
            self._error(ch, SR_DECERR)
            return
        await self.board.cycles(DMA_MEM_LATENCY)
        no_tlast, self.no_tlast_once = self.no_tlast_once, False
        beats = [data[i:i + 4] for i in range(0, n, 4)]
        has_keep = "TKEEP" in s
        for i, b in enumerate(beats):
            s["TDATA"].value = int.from_bytes(b.ljust(4, b"\0"), "little")
            if has_keep:
                s["TKEEP"].value = (1 << len(b)) - 1
            s["TLAST"].value = int(i == len(beats) - 1 and not no_tlast)
            s["TVALID"].value = 1
            while True:
                await RisingEdge(self.clk)
                if s["TREADY"].value:
                    break
                await RisingEdge(s["TREADY"])  # held off: sleep until TREADY rises (no Python each cycle)
        s["TVALID"].value = 0
        s["TLAST"].value = 0
        ch.transfers.append(n)
        ch.idle = True
        ch.irq |= SR_IOC

    async def _s2mm(self, addr: int, n: int):
        ch, m = self.s2mm, self.s2mm_sig
        if self.board.memory.find(addr, n) is None:
            self._error(ch, SR_DECERR)
            return
        got = bytearray()
        has_keep = "TKEEP" in m
        m["TREADY"].value = 1
        while True:
            if not m["TVALID"].value:
                await RisingEdge(m["TVALID"])  # nothing offered: sleep until TVALID rises (the engine computes)
            await RisingEdge(self.clk)
            if not m["TVALID"].value:
                continue
            word = int(m["TDATA"].value).to_bytes(4, "little")
            keep = int(m["TKEEP"].value) if has_keep else 0xF
            got += bytes(word[k] for k in range(4) if keep >> k & 1)
            last = bool(m["TLAST"].value)
            if len(got) > n or (len(got) == n and not last):
                # PG021: a packet longer than the S2MM length is an internal error; the channel halts
                m["TREADY"].value = 0
                self.board.memory.dma_write(addr, bytes(got[:n]))
                self._error(ch, SR_INTERR)
                return
            if last:
                break
        m["TREADY"].value = 0
        self.board.memory.dma_write(addr, bytes(got))
        ch.length = len(got)  # simple mode: S2MM_LENGTH reads the bytes received
        ch.transfers.append(len(got))
        ch.idle = True
        ch.irq |= SR_IOC


# ------------------------------------------------------------------------------------------------
# the board
# ------------------------------------------------------------------------------------------------
class PsSide:
    """What every simulated board shares: simulated time (self.clk, self.period_ns, self._now), the
    slaves on GP0 (self.slaves: name -> ip_dict entry), the DDR (self.memory) and the stand-in
    `pynq` module bound to it."""

    def cycle(self) -> int:
        return int(get_sim_time("ns") / self.period_ns)

    def now(self) -> float:
        """Simulated seconds (time advances only while a register access or a wait runs)."""
        return self._now

    def _slave(self, addr: int) -> tuple[str, int]:
        for name, d in self.slaves.items():
            if d["phys_addr"] <= addr < d["phys_addr"] + d["addr_range"]:
                return name, addr - d["phys_addr"]
        raise BoardError(f"a register access at {addr:#010x}: nothing in the simulated block design answers there "
                         "(on the board: a bus error or a hang)")

    async def wait_cycles(self, n: int) -> None:
        await self.cycles(n)
        self._now = get_sim_time("ns") * 1e-9

    async def cycles(self, n: int) -> None:
        """n rising edges of the clock, as one timer and one edge (not a Python wake-up an edge): from
        a rising edge, the timer ends half a cycle before the n-th edge, which is then awaited."""
        if n > 1:
            await Timer((n - 0.5) * self.period_ns - self.period_ns, "ns", round_mode="round")
        await RisingEdge(self.clk)

    @property
    def stale_reads(self) -> list[dict]:
        return self.memory.stale_reads

    def module(self) -> types.ModuleType:
        if self._module is None:
            self._module = _make_pynq(self)
        return self._module

    @contextlib.contextmanager
    def installed(self):
        """sys.modules["pynq"] (and pynq.lib, pynq.lib.dma) is the stand-in inside the block."""
        mod = self.module()
        names = {"pynq": mod, "pynq.lib": mod.lib, "pynq.lib.dma": mod.lib.dma}
        saved = {k: sys.modules.get(k) for k in names}
        sys.modules.update(names)
        try:
            yield mod
        finally:
            for k, v in saved.items():
                if v is None:
                    sys.modules.pop(k, None)
                else:
                    sys.modules[k] = v


class SimBoard(PsSide):
    """The PS7, the AXI DMA and the DDR around the IP (the cocotb toplevel); see the module's docstring.

    hwh: the block design's .hwh. ip: the instance of our IP in it (its s_axi_control, s_axis,
    m_axis, clock and reset are found there: PORTMAPS and SIGIS/POLARITY)."""

    def __init__(self, dut, hwh, ip: str = "unet_accel_0", dma: str = "axi_dma_0"):
        self.dut = dut
        self.hwh_path = Path(hwh)
        self.hwh = Hwh.parse(hwh)
        self.ip_name, self.dma_name = ip, dma
        if ip not in self.hwh.modules or dma not in self.hwh.modules:
            raise BoardError(f"{hwh}: no module {ip!r} or {dma!r} (modules: {', '.join(sorted(self.hwh.modules))})")
        mod = self.hwh.modules[ip]
        clk_port = next((n for n, p in mod.ports.items() if p.get("SIGIS") == "clk"), "ap_clk")
        rst_port = next((n for n, p in mod.ports.items() if p.get("SIGIS") == "rst"), "ap_rst_n")
        self.reset_active_low = mod.ports.get(rst_port, {}).get("POLARITY", "ACTIVE_LOW").upper() != "ACTIVE_HIGH"
        freq = mod.ports.get(clk_port, {}).get("CLKFREQUENCY") or mod.parameters.get("FREQ_HZ") or 100_000_000
        self.clock_hz = float(freq)
        self.clk, self.rst = self._signal(clk_port), self._signal(rst_port)
        self.period_ns = 1e9 / self.clock_hz
        self.memory = Memory()
        self.events: list[tuple] = []
        self.accesses = 0
        self.ip_dict_ = self.hwh.ip_dict()
        if ip not in self.ip_dict_ or dma not in self.ip_dict_:
            raise BoardError(f"{hwh}: the PS7's memory map has no range for {ip!r} or {dma!r}")
        # the IP's AXI-Lite slave, by the .hwh's port map
        ctl = self._bus_prefix(mod, "s_axi_control")
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, ctl), self.clk, self.rst,
                                  reset_active_level=not self.reset_active_low)
        logging.getLogger(f"cocotb.{dut._name}.{ctl}").setLevel(logging.WARNING)
        # the DMA's streams, wired as the .hwh says (its M_AXIS_MM2S to our slave stream, ...)
        mm2s = self._stream(mod, "s_axis", ("TDATA", "TVALID", "TREADY", "TLAST", "TKEEP"))
        s2mm = self._stream(mod, "m_axis", ("TDATA", "TVALID", "TREADY", "TLAST", "TKEEP"))
        for bus, want in (("s_axis", "M_AXIS_MM2S"), ("m_axis", "S_AXIS_S2MM")):
            peer = self.hwh.peer(ip, bus)
            if peer is not None and peer != (dma, want):
                raise BoardError(f"{hwh}: {ip}/{bus} is connected to {peer[0]}/{peer[1]}, not {dma}/{want}")
        self.dma = SimDma(self, self.ip_dict_[dma]["parameters"], mm2s, s2mm)
        self.slaves = {ip: self.ip_dict_[ip], dma: self.ip_dict_[dma]}
        self._module = None

    def _signal(self, name: str):
        try:
            return getattr(self.dut, name)
        except AttributeError:
            raise BoardError(f"the .hwh names the port {name!r}, which the toplevel {self.dut._name} does not have") \
                from None

    def _bus_prefix(self, mod: HwhModule, bus: str) -> str:
        ports = mod.buses.get(bus, {}).get("ports") or {}
        for logical, physical in ports.items():
            self._signal(physical)
            if not physical.upper().endswith("_" + logical.upper()):
                raise BoardError(f"{self.hwh_path}: {bus}'s {logical} is the port {physical}: expected "
                                 f"<prefix>_{logical}")
        return next(iter(ports.values())).rsplit("_", 1)[0] if ports else bus

    def _stream(self, mod: HwhModule, bus: str, names) -> dict:
        ports = mod.buses.get(bus, {}).get("ports") or {n: f"{bus}_{n}" for n in names}
        out = {}
        for n in names:
            phys = ports.get(n)
            if phys is None:
                if n == "TKEEP":
                    continue
                raise BoardError(f"{self.hwh_path}: {bus} maps no {n}")
            out[n] = self._signal(phys)
        return out

    # --- time and reset --------------------------------------------------------------------------
    async def power_on(self) -> None:
        cocotb.start_soon(Clock(self.clk, self.period_ns, unit="ns").start())
        self._now = 0.0
        await self.reset_pl()

    async def reset_pl(self) -> None:
        """What loading the bitstream does to the PL: every block reset (the IP's ap_rst_n through
        proc_sys_reset, the DMA)."""
        self.rst.value = 0 if self.reset_active_low else 1
        self.dma.soft_reset()
        await ClockCycles(self.clk, 16)
        self.rst.value = 1 if self.reset_active_low else 0
        await ClockCycles(self.clk, 4)
        self._now = get_sim_time("ns") * 1e-9

    # --- the bus ---------------------------------------------------------------------------------
    async def bus_read(self, addr: int) -> int:
        name, off = self._slave(addr)
        self.accesses += 1
        await self.cycles(PYTHON_CYCLES + GP0_CYCLES)
        if name == self.ip_name:
            v = await self.axil.read_dword(off)
        else:
            await self.cycles(2)
            v = self.dma.read(off)
        self._now = get_sim_time("ns") * 1e-9
        return v

    async def bus_write(self, addr: int, value: int) -> None:
        name, off = self._slave(addr)
        self.accesses += 1
        await self.cycles(PYTHON_CYCLES + GP0_CYCLES)
        if name == self.ip_name:
            await self.axil.write_dword(off, value & 0xFFFFFFFF)
        else:
            await self.cycles(2)
            self.dma.write(off, value & 0xFFFFFFFF)
        self._now = get_sim_time("ns") * 1e-9


def _make_pynq(board: PsSide) -> types.ModuleType:  # noqa: C901 (the stand-in module's classes)
    """The stand-in `pynq` module bound to this board (see SimBoard)."""
    pynq = types.ModuleType("pynq", "A simulated PYNQ (unetaccel.rtl_sim.pynq_board): the board is a cocotb simulation")
    ip_drivers: dict[str, type] = {}
    call = resume  # each register access blocks the driver's thread until the simulator did it

    class UnsupportedConfiguration(Exception):
        pass

    class MMIO:
        def __init__(self, base_addr: int, length: int = 4, device=None, **kwargs):
            self.base_addr, self.length = int(base_addr), int(length)

        def _check(self, offset: int) -> int:
            offset = int(offset)
            if offset < 0 or offset + 4 > self.length or offset % 4:
                raise ValueError(f"MMIO offset {offset:#x}: outside [0, {self.length:#x}) or not word aligned")
            if threading.current_thread() is threading.main_thread():
                raise BoardError("the simulated pynq runs in a thread started by cocotb.task.bridge")
            return offset

        def read(self, offset: int = 0, length: int = 4, word_order: str = "little") -> int:
            if length != 4:
                raise ValueError("the simulated MMIO reads 32-bit words")
            return call(board.bus_read)(self.base_addr + self._check(offset))

        def write(self, offset: int, data) -> None:
            offset = self._check(offset)
            if isinstance(data, (bytes, bytearray)):
                for i in range(0, len(data), 4):
                    call(board.bus_write)(self.base_addr + offset + i, int.from_bytes(data[i:i + 4], "little"))
            else:
                call(board.bus_write)(self.base_addr + offset, int(data))

    class RegisterIP(type):
        """PYNQ's registry: a DefaultIP subclass with `bindto` drives those VLNVs (and each without
        its version)."""

        def __init__(cls, name, bases, attrs):
            for vlnv in attrs.get("bindto", ()):
                ip_drivers[vlnv] = cls
                ip_drivers[vlnv.rpartition(":")[0]] = cls
            super().__init__(name, bases, attrs)

    class DefaultIP(metaclass=RegisterIP):
        def __init__(self, description):
            self.description = description
            self._description = description
            self.mmio = MMIO(description["phys_addr"], description["addr_range"])
            self._fullpath = description.get("fullpath")

        def read(self, offset: int = 0) -> int:
            return self.mmio.read(offset)

        def write(self, offset: int, value) -> None:
            self.mmio.write(offset, value)

    def _lookup(vlnv: str, ignore_version: bool):
        if vlnv in ip_drivers:
            return ip_drivers[vlnv]
        base = vlnv.rpartition(":")[0]
        if base in ip_drivers and ignore_version:
            return ip_drivers[base]
        if base in ip_drivers:
            log.warning("IP of type %s: a driver is bound to %s only; ignore_version=True uses it", vlnv, base)
        return DefaultIP

    class Overlay:
        """PYNQ's Overlay on the simulated board: the .hwh beside the bitstream (the .bit itself
        need not exist), ip_dict, drivers by VLNV, download() resets the PL."""

        def __init__(self, bitfile_name, dtbo=None, download: bool = True, ignore_version: bool = False,
                     device=None, **kwargs):
            bit = Path(bitfile_name)
            hwh = bit.with_suffix(".hwh")
            if not hwh.is_file():
                raise OSError(f"{hwh}: no .hwh beside the bitstream (PYNQ needs it)")
            if hwh.resolve() != board.hwh_path.resolve():
                raise BoardError(f"{hwh}: the simulated board was built from {board.hwh_path}")
            self.bitfile_name = str(bit)
            self.ip_dict = Hwh.parse(hwh).ip_dict()
            for d in self.ip_dict.values():
                d["driver"] = _lookup(d["type"], ignore_version)
            self._ip_instances: dict[str, object] = {}
            if download:
                self.download()

        def download(self, dtbo=None):
            call(board.reset_pl)()

        def is_loaded(self) -> bool:
            return True

        def __getattr__(self, name):
            ips = self.__dict__.get("ip_dict") or {}
            if name in ips:
                inst = self.__dict__["_ip_instances"]
                if name not in inst:
                    inst[name] = ips[name]["driver"](ips[name])
                return inst[name]
            raise AttributeError(f"overlay {self.__dict__.get('bitfile_name')!r} has no attribute {name!r}")

    def allocate(shape, dtype="u4", target=None, **kwargs):
        return board.memory.allocate(shape, dtype)

    # pynq.lib.dma: the AXI DMA driver in simple mode, as PYNQ's (the same register sequences)
    dma_mod = types.ModuleType("pynq.lib.dma")
    MAX_C_SG_LENGTH_WIDTH = 26

    class _SDMAChannel:
        def __init__(self, mmio, max_size, width, tx, dre):
            self._mmio, self._max_size, self._align, self._dre = mmio, max_size, width, dre
            self._offset = 0x00 if tx else 0x30
            self._flush_before = tx
            self._active_buffer = None
            self._first_transfer = True
            self.transferred = 0
            self.start()

        @property
        def running(self) -> bool:
            return self._mmio.read(self._offset + DMASR) & SR_HALTED == 0

        @property
        def idle(self) -> bool:
            return self._mmio.read(self._offset + DMASR) & SR_IDLE == SR_IDLE

        @property
        def error(self) -> bool:
            return self._mmio.read(self._offset + DMASR) & (SR_INTERR | SR_SLVERR | SR_DECERR) != 0

        def start(self):
            self._mmio.write(self._offset + DMACR, CR_RS)
            while not self.running:
                pass
            self._first_transfer = True

        def stop(self):
            self._mmio.write(self._offset + DMACR, 0)
            while self.running:
                pass

        def transfer(self, array, start: int = 0, nbytes: int = 0):
            if not self.running:
                raise RuntimeError("DMA channel not started")
            if not self.idle and not self._first_transfer:
                raise RuntimeError("DMA channel not idle")
            if nbytes == 0:
                nbytes = array.nbytes - start
            if nbytes > self._max_size:
                raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum DMA buffer size "
                                 f"{self._max_size}.")
            if not self._dre and (array.physical_address + start) % self._align:
                raise RuntimeError(f"DMA does not support unaligned transfers; Starting address must be aligned "
                                   f"to {self._align} bytes.")
            if self._flush_before:
                array.flush()
            self.transferred = 0
            addr = array.physical_address + start
            self._mmio.write(self._offset + ADDR, addr & 0xFFFFFFFF)
            self._mmio.write(self._offset + ADDR_MSB, (addr >> 32) & 0xFFFFFFFF)
            self._mmio.write(self._offset + LENGTH, nbytes)
            self._active_buffer = array
            self._first_transfer = False

        def wait(self):
            if not self.running:
                raise RuntimeError("DMA channel not started")
            while True:
                sr = self._mmio.read(self._offset + DMASR)
                if sr & SR_INTERR:
                    raise RuntimeError("DMA Internal Error (transfer length 0?)")
                if sr & SR_SLVERR:
                    raise RuntimeError("DMA Slave Error (cannot access memory map interface)")
                if sr & SR_DECERR:
                    raise RuntimeError("DMA Decode Error (invalid address)")
                if sr & SR_IDLE:
                    break
            if not self._flush_before:
                self._active_buffer.invalidate()
            self.transferred = self._mmio.read(self._offset + LENGTH)

    class DMA(DefaultIP):
        bindto = ["xilinx.com:ip:axi_dma:7.1"]

        def __init__(self, description, *args, **kwargs):
            super().__init__(description=description)
            p = description.get("parameters")
            if not p:
                raise RuntimeError("Unable to get parameters from description; Users must use *.hwh files for "
                                   "overlays.")
            if int(p.get("c_include_sg", 0)):
                raise UnsupportedConfiguration("the simulated DMA is in simple mode only (c_include_sg 0)")
            width = int(p.get("c_sg_length_width", MAX_C_SG_LENGTH_WIDTH))
            self.buffer_max_size = (1 << width) - 1
            self.sendchannel = self.recvchannel = None
            if int(p.get("c_include_mm2s", 0)):
                self.sendchannel = _SDMAChannel(self.mmio, self.buffer_max_size,
                                                int(p["c_m_axi_mm2s_data_width"]) >> 3, True,
                                                bool(int(p.get("c_include_mm2s_dre", 0))))
            if int(p.get("c_include_s2mm", 0)):
                self.recvchannel = _SDMAChannel(self.mmio, self.buffer_max_size,
                                                int(p["c_m_axi_s2mm_data_width"]) >> 3, False,
                                                bool(int(p.get("c_include_s2mm_dre", 0))))

    dma_mod.DMA = DMA
    dma_mod.MAX_C_SG_LENGTH_WIDTH = MAX_C_SG_LENGTH_WIDTH
    lib = types.ModuleType("pynq.lib")
    lib.dma = dma_mod
    lib.DMA = DMA
    pynq.lib = lib
    for obj in (UnsupportedConfiguration, MMIO, DefaultIP, Overlay, allocate):
        setattr(pynq, obj.__name__, obj)
    pynq.PynqBuffer = SimBuffer
    pynq.board = board
    pynq.__path__ = []  # a package: `import pynq.lib.dma` finds the submodules in sys.modules
    return pynq
