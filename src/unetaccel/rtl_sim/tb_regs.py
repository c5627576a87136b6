"""cocotb unit testbench of unet_regs, the register block, on its own (toplevel unet_regs).

The testbench plays the engine: it drives busy / core_done / core_err / layer / cur_* and
watches start_pulse and the parameter-load writes, while cocotbext-axi's AxiLiteMaster drives
the bus. Expected values come from the register-map description (unetaccel.codegen.regmap).
"""
from __future__ import annotations

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from unetaccel.codegen import regmap

R = {r.name: r.offset for r in regmap.REGISTERS}
# read/write registers and the bits they keep (their writable fields)
RW_MASKS = {r.name: regmap.write_mask(r.name) for r in regmap.REGISTERS if r.access == "rw"}
READ_ONLY = [r.name for r in regmap.REGISTERS if r.access == "ro"]
# offsets the map leaves free: the first gap and the last word of the address space
UNMAPPED = [next(a for a in range(0, 1 << regmap.ADDR_BITS, 4) if a not in R.values()),
            (1 << regmap.ADDR_BITS) - 4]
CTRL_BITS = sum(f.mask for f in regmap.by_name("CTRL").fields)
START = regmap.pack("CTRL", ap_start=1)
# a run's cycle count (CYCLES_LO/HI) is the cycles `busy` was high plus the cycle of the done pulse
DONE_CYCLE = 1


def ctrl(**bits) -> int:
    """The CTRL status word with the given bits set (the others 0)."""
    return regmap.pack("CTRL", **bits)


class Engine:
    """The engine's side of unet_regs, with monitors of its outputs (a few hundred cycles only)."""

    def __init__(self, dut):
        self.dut = dut
        self.starts = 0
        self.loads = []  # (addr, part, data) of each wl_we cycle
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        for name in ("busy", "core_done", "core_err", "layer", "cur_dim", "cur_kernel", "cur_chan", "wl_refused"):
            getattr(dut, name).value = 0
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        while True:
            await RisingEdge(self.dut.clk)
            if self.dut.start_pulse.value == 1:
                self.starts += 1
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
    read-only registers ignore writes; an unmapped offset reads 0."""
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
    for name in ("CTRL", *RW_MASKS, "ISR", "LAYER", "CYCLES_LO", "CYCLES_HI", "ERROR"):
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
    for name in READ_ONLY:
        before = await e.rd(name)
        await e.wr(name, 0x12345678)
        assert await e.rd(name) == before, f"{name} is read-only"
    for addr in UNMAPPED:
        await e.axil.write_dword(addr, 0xFFFFFFFF)
        assert await e.axil.read_dword(addr) == 0, f"unmapped offset {addr:#x} reads non-zero"
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
