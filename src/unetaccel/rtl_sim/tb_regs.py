"""cocotb unit testbench of unet_regs, the register block, on its own (toplevel unet_regs).

The testbench plays the engine: it drives busy / core_done / core_err / layer / cur_* and
watches start_pulse and the parameter-load writes, while cocotbext-axi's AxiLiteMaster drives
the bus, or, for what that master cannot do (write strobes of its choosing, AW skewed against
W, BREADY / RREADY held low), PinMaster below drives the AXI-Lite pins itself. Expected values
and responses come from the register-map description (unetaccel.codegen.regmap).
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp

from unetaccel.codegen import regmap
from unetaccel.rtl_sim.protocol import quiet_buses

R = {r.name: r.offset for r in regmap.REGISTERS}
# read/write registers and the bits they keep (their writable fields)
RW_MASKS = {r.name: regmap.write_mask(r.name) for r in regmap.REGISTERS if r.access == "rw"}
READ_ONLY = [r.name for r in regmap.REGISTERS if regmap.write_mask(r.name) == 0]  # a write is refused
# offsets the map leaves free: the first gap and the last word of the address space
UNMAPPED = [next(a for a in range(0, 1 << regmap.ADDR_BITS, 4) if a not in R.values()),
            (1 << regmap.ADDR_BITS) - 4]
CTRL_BITS = sum(f.mask for f in regmap.by_name("CTRL").fields)
START = regmap.pack("CTRL", ap_start=1)
OKAY, SLVERR = int(AxiResp.OKAY), int(AxiResp.SLVERR)


def _layout() -> dict:
    with open(os.environ["UNETACCEL_TB_LAYOUT"]) as f:
        return json.load(f)


def refused() -> int:
    """What a refused access answers in this build (layout.json's bus_errors): OKAY by default,
    SLVERR when generated with bus_errors="slverr". Either way STATUS records it."""
    return SLVERR if _layout().get("bus_errors") == "slverr" else OKAY


def status(**bits) -> int:
    """A STATUS word with the given bits set."""
    return regmap.pack("STATUS", **bits)
# a run's cycle count (CYCLES_LO/HI) is the cycles `busy` was high plus the cycle of the done pulse
DONE_CYCLE = 1


def ctrl(**bits) -> int:
    """The CTRL status word with the given bits set (the others 0)."""
    return regmap.pack("CTRL", **bits)


def lanes(strb: int) -> int:
    """The bits of a 32-bit word that write strobes `strb` reach (byte k for strobe bit k)."""
    return sum(0xFF << 8 * k for k in range(4) if strb >> k & 1)


@dataclass(frozen=True)
class Write:
    """One AXI-Lite write for PinMaster: the strobes, and the cycles AWVALID and WVALID wait after
    their channel's previous handshake and BREADY stays low after BVALID."""
    addr: int
    data: int
    strb: int = 0xF
    aw: int = 0
    w: int = 0
    b: int = 0


@dataclass(frozen=True)
class Read:
    """One AXI-Lite read for PinMaster: the cycles ARVALID waits and RREADY stays low after RVALID."""
    addr: int
    ar: int = 0
    r: int = 0


class PinMaster:
    """An AXI-Lite master on the s_axil_* pins, with the skew cocotbext-axi's master has no knob
    for. The channels run on their own and in order, as AXI allows: a burst of writes puts each
    AW and each W on the bus after its own delay, so AW may lead W or W lead AW by any number of
    cycles, and holds BREADY low for a given number of cycles after BVALID; reads likewise with
    ARVALID and RREADY. It drives and samples on the falling clock edge (the slave's outputs move
    on the rising one), and checks the slave's side: a response only after its request, VALID and
    the response held until READY."""

    def __init__(self, dut):
        self.dut = dut
        for name in ("awaddr", "awprot", "awvalid", "wdata", "wstrb", "wvalid", "bready",
                     "araddr", "arprot", "arvalid", "rready"):
            self._pin(name).value = 0
        self.handshakes = {}

    def _pin(self, name):
        return getattr(self.dut, "s_axil_" + name)

    async def _send(self, ch: str, items):
        """Drive request channel ch ("aw", "w" or "ar"): items are (delay, {pin: value})."""
        valid, ready = self._pin(ch + "valid"), self._pin(ch + "ready")
        for delay, values in items:
            for _ in range(delay):
                await FallingEdge(self.dut.clk)
            for k, v in values.items():
                self._pin(k).value = v
            valid.value = 1
            while True:
                taken = ready.value == 1  # VALID and READY both high through the next rising edge
                if taken:
                    self.handshakes[ch] += 1  # the response may come on that very edge
                await FallingEdge(self.dut.clk)
                if taken:
                    break
            valid.value = 0

    async def _receive(self, ch: str, after: tuple[str, ...], delays, pins: tuple[str, ...]):
        """Take one response on ch ("b" or "r") per delay, READY low for that many cycles after
        VALID; response k must come after request k's handshakes on the channels `after`."""
        valid, ready = self._pin(ch + "valid"), self._pin(ch + "ready")
        out = []
        for k, delay in enumerate(delays):
            while valid.value != 1:
                await FallingEdge(self.dut.clk)
            for a in after:
                assert self.handshakes[a] > k, f"{ch.upper()} response {k} before its {a.upper()} handshake"
            seen = {p: int(self._pin(p).value) for p in pins}
            for _ in range(delay):
                await FallingEdge(self.dut.clk)
                assert valid.value == 1, f"{ch.upper()}VALID dropped while {ch.upper()}READY was low"
                now = {p: int(self._pin(p).value) for p in pins}
                assert now == seen, f"{ch.upper()} response changed while {ch.upper()}READY was low: {seen} -> {now}"
            ready.value = 1
            await FallingEdge(self.dut.clk)
            ready.value = 0
            out.append(seen)
        return out

    async def writes(self, writes: list[Write]) -> list[int]:
        """The writes, AW, W and B channels each in order and on their own; the BRESP of each."""
        await FallingEdge(self.dut.clk)
        self.handshakes = {"aw": 0, "w": 0}
        aw = cocotb.start_soon(self._send("aw", [(x.aw, {"awaddr": x.addr, "awprot": 0}) for x in writes]))
        w = cocotb.start_soon(self._send("w", [(x.w, {"wdata": x.data, "wstrb": x.strb}) for x in writes]))
        b = await self._receive("b", ("aw", "w"), [x.b for x in writes], ("bresp",))
        await aw
        await w
        return [x["bresp"] for x in b]

    async def reads(self, reads: list[Read]) -> list[tuple[int, int]]:
        """The reads, AR and R channels each in order and on their own; (RDATA, RRESP) of each."""
        await FallingEdge(self.dut.clk)
        self.handshakes = {"ar": 0}
        ar = cocotb.start_soon(self._send("ar", [(x.ar, {"araddr": x.addr, "arprot": 0}) for x in reads]))
        r = await self._receive("r", ("ar",), [x.r for x in reads], ("rdata", "rresp"))
        await ar
        return [(x["rdata"], x["rresp"]) for x in r]

    async def write(self, addr: int, data: int, strb: int = 0xF) -> int:
        return (await self.writes([Write(addr, data, strb)]))[0]

    async def read(self, addr: int) -> tuple[int, int]:
        return (await self.reads([Read(addr)]))[0]


class Engine:
    """The engine's side of unet_regs, with monitors of its outputs (a few hundred cycles only)."""

    def __init__(self, dut, pins: bool = False):
        """pins: the bus is driven by a PinMaster (self.pins) instead of cocotbext-axi's master."""
        self.dut = dut
        self.starts = 0
        self.loads = []  # (addr, part, data) of each wl_we cycle
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        if pins:
            self.pins = PinMaster(dut)
        else:
            quiet_buses(dut, "s_axil")
            self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.aborts = 0
        for name in ("busy", "core_done", "core_err", "layer", "cur_dim", "cur_kernel", "cur_chan", "wl_refused",
                     "tlast_early", "tlast_missing"):
            getattr(dut, name).value = 0
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        while True:
            await RisingEdge(self.dut.clk)
            if self.dut.start_pulse.value == 1:
                self.starts += 1
            if self.dut.abort_pulse.value == 1:
                self.aborts += 1
            if self.dut.wl_we.value == 1:
                self.loads.append((int(self.dut.wl_addr.value), int(self.dut.wl_part.value),
                                   int(self.dut.wl_data.value)))

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def rd(self, name):
        return await self.axil.read_dword(R[name])

    async def wr(self, name, value):
        await self.axil.write_dword(R[name], value)

    async def finish_run(self, busy_cycles: int, err: int = 0):
        """Be busy for busy_cycles, then end the run with a done pulse carrying err."""
        await FallingEdge(self.dut.clk)
        self.dut.busy.value = 1
        await ClockCycles(self.dut.clk, busy_cycles, rising=False)
        self.dut.busy.value = 0
        self.dut.core_done.value = 1
        self.dut.core_err.value = err
        await FallingEdge(self.dut.clk)
        self.dut.core_done.value = 0
        self.dut.core_err.value = 0


@cocotb.test()
async def test_identity_and_read_write(dut):
    """ID / VERSION / CONFIG read as described; every rw register keeps exactly its bits;
    read-only registers ignore writes; an unmapped offset reads 0; both are refused (OKAY, or
    SLVERR in a bus_errors="slverr" build) and recorded in STATUS."""
    e = Engine(dut)
    await e.reset()
    assert await e.rd("ID") == regmap.ID_VALUE == regmap.reset_value("ID")
    assert await e.rd("VERSION") == regmap.VERSION_VALUE == regmap.reset_value("VERSION")
    layout = json.load(open(os.environ["UNETACCEL_TB_LAYOUT"]))
    lanes = layout["lanes"]
    config = await e.rd("CONFIG")
    assert config == regmap.pack("CONFIG", pin=lanes[0], pout=lanes[1], weight_bits=layout["weight_bits"]), \
        f"CONFIG {config:#x} = {regmap.unpack('CONFIG', config)}"
    assert await e.rd("NUM_LAYERS") == regmap.pack("NUM_LAYERS", count=len(layout["layers"]))
    for name in ("CTRL", *RW_MASKS, "ISR", "LAYER", "CYCLES_LO", "CYCLES_HI", "ERROR", "STATUS"):
        got = await e.rd(name)
        assert got == regmap.reset_value(name), f"{name} after reset: {got:#x}, expected {regmap.reset_value(name):#x}"
    for i, (name, mask) in enumerate(RW_MASKS.items()):
        for value in (0xFFFFFFFF, 0xA5A5A5A5 ^ i, 0):
            await e.wr(name, value)
            got = await e.rd(name)
            if name in ("DIM", "KERNEL", "CHANNELS"):
                await e.wr("MODE", regmap.pack("MODE", single_layer=1))  # single layer: the written value reads back
                got = await e.rd(name)
                await e.wr("MODE", 0)
            assert got == value & mask, f"{name}: wrote {value:#x}, read {got:#x}, expected {value & mask:#x}"
    bad = refused()
    for name in READ_ONLY:
        before = await e.rd(name)
        resp = (await e.axil.write(R[name], (0x12345678).to_bytes(4, "little"))).resp
        assert resp == bad, f"a write to the read-only {name} answered {resp!r}, expected {bad}"
        assert await e.rd(name) == before, f"{name} is read-only"
        assert await e.rd("STATUS") == status(read_only=1), f"a write to {name}: STATUS.read_only not set"
        await e.wr("STATUS", status(read_only=1))
        assert await e.rd("STATUS") == 0, "STATUS.read_only not cleared by writing 1"
    for addr in UNMAPPED:
        resp = (await e.axil.write(addr, bytes([0xFF] * 4))).resp
        assert resp == bad, f"a write to the unmapped offset {addr:#x} answered {resp!r}, expected {bad}"
        assert await e.rd("STATUS") == status(bad_offset=1), f"a write to {addr:#x}: STATUS.bad_offset not set"
        await e.wr("STATUS", 0xFFFFFFFF)
        got = await e.axil.read(addr, 4)
        assert got.resp == bad and got.data == bytes(4), \
            f"a read of the unmapped offset {addr:#x} answered {got.resp!r} with {got.data.hex()}, expected {bad}, 0"
        assert await e.rd("STATUS") == status(bad_offset=1), f"a read of {addr:#x}: STATUS.bad_offset not set"
        await e.wr("STATUS", status(bad_offset=1))
    assert await e.rd("STATUS") == 0
    assert e.starts == 0


@cocotb.test()
async def test_start_done_interrupt_and_cycles(dut):
    """A start pulses once and only when idle; done sets ap_done (and ap_error with an error
    code), raises the interrupt when enabled, W1C clears it; the cycle counter counts the run
    exactly: the cycles busy was high plus the done cycle."""
    e = Engine(dut)
    await e.reset()
    assert await e.rd("CTRL") & CTRL_BITS == ctrl(ap_idle=1)
    await e.wr("GIE", regmap.pack("GIE", enable=1))
    await e.wr("IER", regmap.pack("IER", done=1))
    await e.wr("CTRL", START)
    await ClockCycles(dut.clk, 2)
    assert e.starts == 1
    await e.finish_run(37)
    await ClockCycles(dut.clk, 2)
    got = await e.rd("CTRL")
    assert got & CTRL_BITS == ctrl(ap_done=1, ap_idle=1), f"CTRL {got:#x}: expected done + idle"
    assert dut.irq.value == 1
    cycles = await e.rd("CYCLES_LO")
    assert cycles == 37 + DONE_CYCLE, f"CYCLES {cycles} for a run busy 37 cycles, expected {37 + DONE_CYCLE}"
    assert await e.rd("CYCLES_HI") == 0
    await e.wr("ISR", 0)  # W1C: writing 0 changes nothing
    assert dut.irq.value == 1
    await e.wr("ISR", regmap.pack("ISR", done=1))
    assert dut.irq.value == 0
    # a start while busy is ignored
    await e.wr("CTRL", START)
    await ClockCycles(dut.clk, 2)
    assert e.starts == 2
    dut.busy.value = 1
    await e.wr("CTRL", START)
    await ClockCycles(dut.clk, 3)
    assert e.starts == 2, "a start while busy must not pulse"
    running = regmap.field("CTRL", "ap_start").mask | regmap.field("CTRL", "ap_idle").mask
    assert await e.rd("CTRL") & running == ctrl(ap_start=1)  # running, not idle
    dut.busy.value = 0
    await e.finish_run(5, err=regmap.ERRORS["bad_size"])
    got = await e.rd("CTRL")
    assert got & CTRL_BITS == ctrl(ap_done=1, ap_idle=1, ap_error=1), f"CTRL {got:#x}: expected done + idle + error"
    assert await e.rd("ERROR") == regmap.pack("ERROR", code=regmap.ERRORS["bad_size"])
    # the next accepted start clears done and error
    await e.wr("CTRL", START)
    assert regmap.unpack("CTRL", await e.rd("CTRL"))["ap_done"] == 0
    assert regmap.unpack("CTRL", await e.rd("CTRL"))["ap_error"] == 0
    assert await e.rd("ERROR") == regmap.ERRORS["none"]
    await e.finish_run(3)
    # interrupt masked when GIE is off
    await e.wr("ISR", regmap.pack("ISR", done=1))
    await e.wr("GIE", 0)
    await e.wr("CTRL", START)
    await e.finish_run(3)
    assert await e.rd("ISR") == regmap.pack("ISR", done=1) and dut.irq.value == 0


@cocotb.test()
async def test_geometry_readback_and_parameter_load(dut):
    """Whole-network mode reads the engine's current layer geometry; the load path writes
    one entry per WLOAD_DATA and advances the address (a weight word after its parts), and
    ignores writes while busy; a write ignored or refused by the engine (wl_refused) sets the
    sticky WLOAD_STATUS bit, which writing WLOAD_ADDR clears."""
    e = Engine(dut)
    await e.reset()
    dut.cur_dim.value = regmap.pack("DIM", height=64, width=48)
    dut.cur_kernel.value = regmap.pack("KERNEL", kernel_size=3, padding=1)
    dut.cur_chan.value = regmap.pack("CHANNELS", in_channels=16, out_channels=32)
    dut.layer.value = 7
    await e.wr("MODE", 0)
    await e.wr("DIM", 0x11112222)
    assert regmap.unpack("DIM", await e.rd("DIM")) == {"height": 64, "width": 48}
    assert regmap.unpack("KERNEL", await e.rd("KERNEL")) == {"kernel_size": 3, "padding": 1}
    assert regmap.unpack("CHANNELS", await e.rd("CHANNELS")) == {"in_channels": 16, "out_channels": 32}
    assert await e.rd("LAYER") == regmap.pack("LAYER", index=7)
    base = regmap.pack("WLOAD_ADDR", region=regmap.WLOAD_REGIONS["bn_bias"], index=5)
    await e.wr("WLOAD_ADDR", base)
    for v in (0xDEADBEEF, 1, 0x80000000):
        await e.wr("WLOAD_DATA", v)
    await ClockCycles(dut.clk, 2)
    assert e.loads == [(base, 0, 0xDEADBEEF), (base + 1, 0, 1), (base + 2, 0, 0x80000000)], e.loads
    assert await e.rd("WLOAD_ADDR") == base + 3
    # weights: a word takes `weight_parts` writes, low part first; a new address restarts the parts
    parts = json.load(open(os.environ["UNETACCEL_TB_LAYOUT"]))["weight_parts"]
    wbase = regmap.pack("WLOAD_ADDR", region=regmap.WLOAD_REGIONS["weights"], index=9)
    e.loads.clear()
    await e.wr("WLOAD_ADDR", wbase)
    await e.wr("WLOAD_DATA", 0x55)  # part 0 of word 9, then the address is written again
    await e.wr("WLOAD_ADDR", wbase)
    for v in range(2 * parts + 1):
        await e.wr("WLOAD_DATA", 100 + v)
    await ClockCycles(dut.clk, 2)
    want = [(wbase, 0, 0x55)] + [(wbase + v // parts, v % parts, 100 + v) for v in range(2 * parts + 1)]
    assert e.loads == want, (e.loads, want)
    assert await e.rd("WLOAD_ADDR") == wbase + 2, "the index advances after each word's last part"
    await e.wr("WLOAD_ADDR", base + 3)
    n = len(e.loads)
    dut.busy.value = 1
    await e.wr("WLOAD_DATA", 42)
    await ClockCycles(dut.clk, 2)
    assert len(e.loads) == n and await e.rd("WLOAD_ADDR") == base + 3, "a load while busy must be ignored"
    dut.busy.value = 0
    refused = regmap.pack("WLOAD_STATUS", refused=1)
    assert await e.rd("WLOAD_STATUS") == refused, "a load while busy sets WLOAD_STATUS"
    await e.wr("WLOAD_ADDR", base)
    assert await e.rd("WLOAD_STATUS") == 0, "writing WLOAD_ADDR clears WLOAD_STATUS"
    await e.wr("WLOAD_DATA", 7)
    assert await e.rd("WLOAD_STATUS") == 0, "an accepted load leaves WLOAD_STATUS clear"
    await FallingEdge(dut.clk)
    dut.wl_refused.value = 1  # the engine refuses a write (a one-cycle pulse)
    await FallingEdge(dut.clk)
    dut.wl_refused.value = 0
    await e.wr("WLOAD_DATA", 8)
    assert await e.rd("WLOAD_STATUS") == refused, "the engine's refusal sets WLOAD_STATUS, and it stays set"
    await e.wr("WLOAD_ADDR", base)
    assert await e.rd("WLOAD_STATUS") == 0
    assert await e.rd("WLOAD_DATA") == 0  # write-only


PIN_TIMEOUT_US = 2000  # a few thousand cycles a test: a hung handshake fails instead of waiting forever
MODE_SINGLE = regmap.pack("MODE", single_layer=1)  # DIM, KERNEL and CHANNELS read back what was written


@cocotb.test(timeout_time=PIN_TIMEOUT_US, timeout_unit="us")
async def test_write_strobes(dut):
    """Writes honour WSTRB: every writable register takes only the strobed bytes (of its
    writable bits); a write to CTRL whose strobes leave ap_start's byte out does not start; an
    ISR write-1-to-clear clears only with the done bit's byte strobed; WLOAD_DATA loads a
    whole word: no strobes load nothing and refuse nothing (a write without strobes writes nothing
    anywhere), some but not all are refused (STATUS.load_refused, WLOAD_STATUS.refused) and load
    nothing."""
    e = Engine(dut, pins=True)
    p = e.pins
    await e.reset()
    for name, mask in RW_MASKS.items():
        if name != "MODE":
            assert await p.write(R["MODE"], MODE_SINGLE) == OKAY
        want = 0x11223344 & mask
        assert await p.write(R[name], 0x11223344) == OKAY
        for strb in (0x0, 0x1, 0x2, 0x4, 0x8, 0x5, 0xA, 0xE, 0xF, 0x3):
            value = 0xA5C3E7F1 ^ (strb * 0x01010101)
            assert await p.write(R[name], value, strb) == OKAY, f"{name}: a write with WSTRB {strb:04b} failed"
            want = (want & ~lanes(strb) | value & lanes(strb)) & mask
            got = await p.read(R[name])
            assert got == (want, OKAY), \
                f"{name}: wrote {value:#010x} with WSTRB {strb:04b}, read {got[0]:#010x}, expected {want:#010x}"
    assert e.starts == 0
    # CTRL: ap_start's byte must be strobed
    start_byte = 1 << regmap.field("CTRL", "ap_start").lsb // 8
    for strb in (0x0, 0xF & ~start_byte):
        assert await p.write(R["CTRL"], 0xFFFFFFFF, strb) == OKAY
        await ClockCycles(dut.clk, 3)
        assert e.starts == 0, f"a write to CTRL with WSTRB {strb:04b} started the engine"
    assert await p.write(R["CTRL"], START, start_byte) == OKAY
    await ClockCycles(dut.clk, 3)
    assert e.starts == 1, "a write of ap_start with its byte strobed did not start"
    # ISR: write 1 to clear, with the done bit's byte strobed
    await e.finish_run(4)
    isr_set = regmap.pack("ISR", done=1)
    assert await p.read(R["ISR"]) == (isr_set, OKAY)
    done_byte = 1 << regmap.field("ISR", "done").lsb // 8
    for strb in (0x0, 0xF & ~done_byte):
        assert await p.write(R["ISR"], 0xFFFFFFFF, strb) == OKAY
        assert await p.read(R["ISR"]) == (isr_set, OKAY), f"ISR cleared by a write with WSTRB {strb:04b}"
    assert await p.write(R["ISR"], isr_set, done_byte) == OKAY
    assert await p.read(R["ISR"]) == (0, OKAY), "ISR not cleared by a write of 1 with its byte strobed"
    # WLOAD_DATA: a whole word or nothing
    base = regmap.pack("WLOAD_ADDR", region=regmap.WLOAD_REGIONS["bn_bias"], index=3)
    assert await p.write(R["WLOAD_ADDR"], base) == OKAY
    e.loads.clear()
    assert await p.write(R["WLOAD_DATA"], 0x12345678, 0x0) == OKAY
    assert await p.read(R["WLOAD_STATUS"]) == (0, OKAY), "a WLOAD_DATA write without strobes was refused"
    assert await p.read(R["STATUS"]) == (0, OKAY), "a WLOAD_DATA write without strobes set STATUS"
    for strb in (0x1, 0x7, 0xE, 0x8):
        resp = await p.write(R["WLOAD_DATA"], 0x12345678, strb)
        assert resp == refused(), f"a WLOAD_DATA write with WSTRB {strb:04b} answered {resp}, expected {refused()}"
        assert await p.read(R["STATUS"]) == (status(load_refused=1), OKAY)
        assert await p.read(R["WLOAD_STATUS"]) == (regmap.pack("WLOAD_STATUS", refused=1), OKAY)
    assert await p.write(R["STATUS"], status(load_refused=1)) == OKAY
    assert await p.write(R["WLOAD_ADDR"], base) == OKAY
    await ClockCycles(dut.clk, 2)
    assert e.loads == [] and await p.read(R["WLOAD_ADDR"]) == (base, OKAY), \
        f"a WLOAD_DATA write without all four strobes loaded {e.loads}"
    assert await p.write(R["WLOAD_DATA"], 0x12345678) == OKAY
    await ClockCycles(dut.clk, 2)
    assert e.loads == [(base, 0, 0x12345678)] and await p.read(R["WLOAD_ADDR"]) == (base + 1, OKAY)


@cocotb.test(timeout_time=PIN_TIMEOUT_US, timeout_unit="us")
async def test_isr_set_wins_over_clear(dut):
    """A done event in the same cycle as an ISR write-1-to-clear leaves ISR set (the interrupt
    is not lost); a done the cycle before the clear is cleared by it, one the cycle after sets it
    again."""
    e = Engine(dut, pins=True)
    p = e.pins
    await e.reset()
    assert await p.write(R["GIE"], regmap.pack("GIE", enable=1)) == OKAY
    assert await p.write(R["IER"], regmap.pack("IER", done=1)) == OKAY
    clear = regmap.pack("ISR", done=1)
    falls = []  # falling edges from the write's start to BVALID: the write acts on the rising edge before

    async def clear_isr(done_at: int | None):
        """Set ISR by a done pulse, then write 1 to clear it with core_done high over the rising
        edge `done_at` cycles into the write (None: no pulse); ISR afterwards."""
        await e.finish_run(2)
        assert await p.read(R["ISR"]) == (clear, OKAY)
        await FallingEdge(dut.clk)
        write = cocotb.start_soon(p.writes([Write(R["ISR"], clear, w=2, b=1)]))  # starts on the next falling edge
        n, bvalid_at = 0, None
        while (bvalid_at is None or done_at is not None and n <= done_at) and n < 100:
            if done_at is not None:
                dut.core_done.value = int(n == done_at)
            await FallingEdge(dut.clk)
            n += 1
            if bvalid_at is None and dut.s_axil_bvalid.value == 1:
                bvalid_at = n
        dut.core_done.value = 0
        assert bvalid_at is not None, "no write response"
        if done_at is None:
            falls.append(bvalid_at)
        assert await write == [OKAY]
        return (await p.read(R["ISR"]))[0]

    assert await clear_isr(None) == 0
    n = falls[0]  # core_done driven from falling edge n - 1 is high over the rising edge of the write
    assert await clear_isr(n - 1) == clear and dut.irq.value == 1, "a done in the cycle of the ISR clear was lost"
    assert await clear_isr(n - 2) == 0, "a done the cycle before the clear must be cleared by it"
    assert await clear_isr(n) == clear, "a done the cycle after the clear must set ISR again"


@cocotb.test(timeout_time=PIN_TIMEOUT_US, timeout_unit="us")
async def test_error_responses(dut):
    """OKAY for every read of a mapped register and every write of a writable one; refused (OKAY,
    or SLVERR in a bus_errors="slverr" build; recorded in STATUS), and nothing changes, for a
    write to an unmapped or read-only offset, a WLOAD_DATA write while busy, and a read of an
    unmapped offset (which returns 0). A start while busy stays OKAY (ignored, as
    docs/registers.md says) and sets STATUS.start_busy."""
    e = Engine(dut, pins=True)
    p = e.pins
    await e.reset()
    got = await p.reads([Read(r.offset) for r in regmap.REGISTERS])
    bad = [r.name for r, (_, resp) in zip(regmap.REGISTERS, got) if resp != OKAY]
    assert not bad, f"reads of mapped registers answered SLVERR: {bad}"
    writable = [r.name for r in regmap.REGISTERS if regmap.write_mask(r.name)]
    got = await p.writes([Write(R[n], 0 if n != "WLOAD_DATA" else 0x5A) for n in writable if n != "CTRL"])
    writable.remove("CTRL")  # (its abort bit pulses; the abort test covers it)
    bad = [n for n, resp in zip(writable, got) if resp != OKAY]
    assert not bad, f"writes to writable registers answered SLVERR: {bad}"
    assert e.starts == 0 and len(e.loads) == 1
    before = {n: (await p.read(R[n]))[0] for n in READ_ONLY}
    got = await p.writes([Write(R[n], 0xFFFFFFFF) for n in READ_ONLY] + [Write(a, 0xFFFFFFFF) for a in UNMAPPED])
    assert got == [refused()] * (len(READ_ONLY) + len(UNMAPPED)), \
        f"writes to read-only {READ_ONLY} and unmapped {[hex(a) for a in UNMAPPED]} offsets answered {got}"
    assert {n: (await p.read(R[n]))[0] for n in READ_ONLY} == before
    assert await p.read(R["STATUS"]) == (status(read_only=1, bad_offset=1), OKAY)
    assert await p.write(R["STATUS"], 0xFFFFFFFF) == OKAY
    assert await p.reads([Read(a) for a in UNMAPPED]) == [(0, refused())] * len(UNMAPPED)
    assert await p.read(R["STATUS"]) == (status(bad_offset=1), OKAY)
    assert await p.write(R["STATUS"], 0xFFFFFFFF) == OKAY
    # while busy: a load is refused, a start is ignored with OKAY
    wl = regmap.pack("WLOAD_ADDR", region=regmap.WLOAD_REGIONS["shift"], index=2)
    assert await p.write(R["WLOAD_ADDR"], wl) == OKAY
    e.loads.clear()
    await FallingEdge(dut.clk)
    dut.busy.value = 1
    assert await p.write(R["WLOAD_DATA"], 0x77) == refused(), "a WLOAD_DATA write while busy must be refused"
    assert await p.write(R["CTRL"], START) == OKAY
    await ClockCycles(dut.clk, 2)
    assert e.loads == [] and e.starts == 0 and await p.read(R["WLOAD_ADDR"]) == (wl, OKAY)
    assert await p.read(R["STATUS"]) == (status(load_refused=1, start_busy=1), OKAY)
    assert await p.write(R["STATUS"], 0xFFFFFFFF) == OKAY
    await FallingEdge(dut.clk)
    dut.busy.value = 0
    assert await p.write(R["WLOAD_DATA"], 0x77) == OKAY
    await ClockCycles(dut.clk, 2)
    assert e.loads == [(wl, 0, 0x77)]


SKEWS = {  # (AW delay, W delay, BREADY/RREADY low), cycles, for every transfer of a burst
    "aligned": (0, 0, 0),
    "AW before W": (0, 2, 0),
    "W before AW": (2, 0, 0),
    "W several cycles late": (0, 7, 0),
    "BREADY/RREADY low": (0, 0, 5),
    "W late, READY low": (1, 5, 3),
}
SKEW_SEED = 2024


@cocotb.test(timeout_time=4 * PIN_TIMEOUT_US, timeout_unit="us")
async def test_skewed_channels(dut):
    """AW before W, W before AW, W several cycles late and BREADY / RREADY held low, each for a
    burst of back-to-back transfers (the next request is on the bus while a response waits),
    then random skews per transfer: no write is lost, doubled or reordered (the load path sees
    every WLOAD_DATA once and in order, a register keeps the last value written), every read
    returns its register's word, and the responses are OKAY except the unmapped offset's."""
    e = Engine(dut, pins=True)
    p = e.pins
    await e.reset()
    rng = random.Random(SKEW_SEED)
    dut._log.info("random skews: seed %d", SKEW_SEED)
    print("seed", SKEW_SEED)
    plans = [(name, lambda i, s=s: s) for name, s in SKEWS.items()]
    plans.append((f"random (seed {SKEW_SEED})", lambda i: (rng.randrange(6), rng.randrange(9), rng.randrange(6))))
    for k, (name, skew) in enumerate(plans):
        base = regmap.pack("WLOAD_ADDR", region=regmap.WLOAD_REGIONS["bn_mul"], index=16 * k)
        data = [0x1000 * k + 0x101 * i for i in range(6)]
        srcs = [0xC0DE0000 + 16 * k + i for i in range(3)]
        seq = [(R["WLOAD_ADDR"], base), (R["SRC_BASE"], srcs[0]), *[(R["WLOAD_DATA"], d) for d in data[:3]],
               (R["SRC_BASE"], srcs[1]), (R["DST_BASE"], ~srcs[1] & 0xFFFFFFFF),
               *[(R["WLOAD_DATA"], d) for d in data[3:]], (R["SRC_BASE"], srcs[2])]
        writes = []
        for i, (addr, v) in enumerate(seq):
            aw, w, b = skew(i)
            writes.append(Write(addr, v, aw=aw, w=w, b=b))
        e.loads.clear()
        got = await p.writes(writes)
        assert got == [OKAY] * len(writes), f"{name}: write responses {got}"
        await ClockCycles(dut.clk, 2)
        want = [(base + i, 0, d) for i, d in enumerate(data)]
        assert e.loads == want, f"{name}: the load path saw {e.loads}, expected {want}"
        expect = {R["SRC_BASE"]: srcs[2], R["DST_BASE"]: ~srcs[1] & 0xFFFFFFFF, R["WLOAD_ADDR"]: base + len(data),
                  R["ID"]: regmap.ID_VALUE, R["VERSION"]: regmap.VERSION_VALUE, UNMAPPED[0]: 0,
                  R["NUM_LAYERS"]: regmap.pack("NUM_LAYERS", count=len(_layout()["layers"]))}
        order = [R["SRC_BASE"], R["ID"], UNMAPPED[0], R["DST_BASE"], R["WLOAD_ADDR"], R["VERSION"], R["SRC_BASE"],
                 R["NUM_LAYERS"]]
        reads = []
        for i, addr in enumerate(order):
            ar, _, r = skew(i)
            reads.append(Read(addr, ar=ar, r=r))
        got = await p.reads(reads)
        want = [(expect[a], refused() if a == UNMAPPED[0] else OKAY) for a in order]
        assert got == want, f"{name}: reads {[(hex(d), r) for d, r in got]}, expected {[(hex(d), r) for d, r in want]}"
    assert e.starts == 0


@cocotb.test(timeout_time=PIN_TIMEOUT_US, timeout_unit="us")
async def test_abort_status_notes_and_ctrl(dut):
    """CTRL.abort pulses abort_pulse once (reads 0) and wins over a start in the same write; the
    stream's TLAST notes set STATUS; a set in the cycle of a clear wins; CTRL never reads ap_start
    and ap_idle both 1 (a read at every cycle around an accepted start)."""
    e = Engine(dut, pins=True)
    p = e.pins
    await e.reset()
    abort = regmap.pack("CTRL", abort=1)
    assert await p.write(R["CTRL"], abort) == OKAY
    await ClockCycles(dut.clk, 2)
    assert (e.aborts, e.starts) == (1, 0), f"an abort write: {e.aborts} abort pulses, {e.starts} starts"
    assert await p.write(R["CTRL"], abort | START) == OKAY
    await ClockCycles(dut.clk, 2)
    assert (e.aborts, e.starts) == (2, 0), "abort and start in one write: the abort wins, no start"
    assert (await p.read(R["CTRL"]))[0] & abort == 0, "CTRL.abort reads 0"
    for name in ("tlast_early", "tlast_missing"):
        await FallingEdge(dut.clk)
        getattr(dut, name).value = 1
        await FallingEdge(dut.clk)
        getattr(dut, name).value = 0
        assert await p.read(R["STATUS"]) == (status(**{name: 1}), OKAY), f"{name} did not set STATUS"
        assert await p.write(R["STATUS"], status(**{name: 1})) == OKAY
        assert await p.read(R["STATUS"]) == (0, OKAY)
    # ap_start and ap_idle: a start (the engine stays idle: busy is the testbench's and stays 0)
    both = ctrl(ap_start=1, ap_idle=1)

    async def sample_ctrl(cycles: int) -> list[int]:
        """CTRL read back to back (ARVALID and RREADY held high) for `cycles` cycles."""
        words = []
        dut.s_axil_araddr.value = R["CTRL"]
        dut.s_axil_arvalid.value = 1
        dut.s_axil_rready.value = 1
        for _ in range(cycles):
            await FallingEdge(dut.clk)
            if dut.s_axil_rvalid.value == 1:
                words.append(int(dut.s_axil_rdata.value))
        dut.s_axil_arvalid.value = 0
        dut.s_axil_rready.value = 0
        return words

    started = set()
    for delay in range(4):  # the reads' phase against the start pulse
        await FallingEdge(dut.clk)
        sampler = cocotb.start_soon(sample_ctrl(24))
        for _ in range(delay):
            await FallingEdge(dut.clk)
        assert await p.writes([Write(R["CTRL"], START)]) == [OKAY]
        words = await sampler
        bad = [hex(w) for w in words if w & both == both]
        assert not bad, f"CTRL read ap_start and ap_idle both 1 around a start: {bad}"
        started.update(w & ctrl(ap_start=1) for w in words)
    assert e.starts == 4 and started == {0, ctrl(ap_start=1)}, (e.starts, started)
