"""cocotb unit testbench of USER_PRJ0 on its own (toplevel USER_PRJ0): FSIC's AXI-Lite port
without a write response, driven the way FSIC's config path may drive it.

A write is done at the one handshake awvalid && wvalid && awready && wready, whatever order
AWVALID and WVALID rise in; a read follows at once. A random sequence (the seed is printed) of
register writes with AW and W skewed either way, load-window writes (each must advance the load
index by exactly one: none lost, none doubled) and reads right behind them (each must see every
write before it: none reordered) is checked against a model of the registers built from the
register-map description.
"""
from __future__ import annotations

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from unetaccel.codegen import regmap

CLOCK_NS = 10
# read/write registers that read back what was written in single-layer mode (MODE stays at
# single layer: in whole-network mode DIM, KERNEL and CHANNELS read the current layer's)
REGS = ("DIM", "KERNEL", "CHANNELS", "OPCODE", "SRC_BASE", "SKIP_BASE", "DST_BASE", "WGT_BASE", "BN_BASE", "QUANT")


class FsicLite:
    """FSIC's side of USER_PRJ0's AXI-Lite port."""

    def __init__(self, dut):
        self.dut = dut
        for name in ("awvalid", "wvalid", "arvalid", "awaddr", "araddr", "wdata", "wstrb", "ss_tvalid", "ss_tdata",
                     "ss_tuser", "ss_tstrb", "ss_tkeep", "ss_tlast", "user_clock2", "uck2_rst_n"):
            getattr(dut, name).value = 0
        dut.rready.value = 0
        dut.sm_tready.value = 1
        if hasattr(dut, "ss_tupsb"):
            dut.ss_tupsb.value = 0

    async def write(self, offset: int, data: int, aw_delay: int = 0, w_delay: int = 0, strb: int = 0xF):
        d = self.dut
        await FallingEdge(d.axi_clk)
        d.awaddr.value = offset
        d.wdata.value = data
        d.wstrb.value = strb
        for cycle in range(max(aw_delay, w_delay) + 1):
            if cycle == aw_delay:
                d.awvalid.value = 1
            if cycle == w_delay:
                d.wvalid.value = 1
            if cycle < max(aw_delay, w_delay):
                await FallingEdge(d.axi_clk)
                assert not (d.awready.value and not d.wvalid.value), "AWREADY without WVALID"
        while True:
            await RisingEdge(d.axi_clk)
            if d.awvalid.value and d.wvalid.value and d.awready.value and d.wready.value:
                break
        await FallingEdge(d.axi_clk)
        d.awvalid.value = 0
        d.wvalid.value = 0

    async def read(self, offset: int) -> int:
        d = self.dut
        await FallingEdge(d.axi_clk)
        d.araddr.value = offset
        d.arvalid.value = 1
        while True:
            await RisingEdge(d.axi_clk)
            if d.arready.value:
                break
        await FallingEdge(d.axi_clk)
        d.arvalid.value = 0
        d.rready.value = 1
        while True:
            await RisingEdge(d.axi_clk)
            if d.rvalid.value:
                data = int(d.rdata.value)
                break
        await FallingEdge(d.axi_clk)
        d.rready.value = 0
        return data


@cocotb.test(timeout_time=5, timeout_unit="ms")  # ~40 us of traffic, a short run; a stuck handshake fails here
async def test_writes_in_any_order(dut):
    seed = int(os.environ.get("UNETACCEL_TB_SEED", "0")) or random.randrange(1 << 30)
    dut._log.info("seed %d", seed)
    rng = random.Random(seed)
    cocotb.start_soon(Clock(dut.axi_clk, CLOCK_NS, "ns").start())
    dut.axis_clk.value = 0
    bus = FsicLite(dut)
    dut.axi_reset_n.value = 0
    dut.axis_rst_n.value = 0
    await ClockCycles(dut.axi_clk, 5)
    dut.axi_reset_n.value = 1
    dut.axis_rst_n.value = 1
    await ClockCycles(dut.axi_clk, 5)
    assert await bus.read(regmap.by_name("ID").offset) == regmap.ID_VALUE

    model = {name: regmap.reset_value(name) for name in REGS}
    model["MODE"] = regmap.pack("MODE", single_layer=1)
    await bus.write(regmap.by_name("MODE").offset, model["MODE"])
    shift = regmap.WLOAD_REGIONS["shift"]
    load_addr = regmap.pack("WLOAD_ADDR", region=shift, index=0)
    await bus.write(regmap.by_name("WLOAD_ADDR").offset, load_addr)
    model["WLOAD_ADDR"] = load_addr
    writes = loads = reads = 0
    for _ in range(300):
        kind = rng.random()
        aw, w = rng.choice([(0, 0), (0, rng.randint(1, 4)), (rng.randint(1, 4), 0), (rng.randint(1, 3), rng.randint(1, 3))])
        if kind < 0.5:
            name = rng.choice(REGS)
            value = rng.getrandbits(32)
            await bus.write(regmap.by_name(name).offset, value, aw, w)
            model[name] = value & regmap.write_mask(name)
            writes += 1
        elif kind < 0.7:
            await bus.write(regmap.by_name("WLOAD_DATA").offset, 0, aw, w)  # a shift of 0: valid
            model["WLOAD_ADDR"] += 1  # the index advances by exactly one a write
            loads += 1
        else:
            name = rng.choice([*REGS, "WLOAD_ADDR"])
            got = await bus.read(regmap.by_name(name).offset)
            assert got == model[name], f"{name} reads {got:#x}, written {model[name]:#x} (seed {seed})"
            reads += 1
    for name, want in model.items():
        got = await bus.read(regmap.by_name(name).offset)
        assert got == want, f"{name} reads {got:#x}, written {want:#x} (seed {seed})"
    dut._log.info("%d register writes, %d load-window writes, %d reads: none lost, doubled or reordered",
                  writes, loads, reads)

    # la_data_o: idle, then a start with these (random) single-layer registers: it is rejected or
    # runs from the activation memory; either way the engine ends idle, and the logic analyzer
    # shows the error code and layer the registers read
    la = int(dut.la_data_o.value)
    assert la >> 19 & 0x1F == 0, f"la_data_o {la:#08x}: state and busy of an idle engine are 0"
    await bus.write(regmap.by_name("CTRL").offset, regmap.pack("CTRL", ap_start=1))
    for _ in range(2000):
        if await bus.read(regmap.by_name("CTRL").offset) & regmap.pack("CTRL", ap_idle=1):
            break
    else:
        raise AssertionError("the engine did not come back to idle")
    await ClockCycles(dut.axi_clk, 2)
    la = int(dut.la_data_o.value)
    err = await bus.read(regmap.by_name("ERROR").offset)
    layer = await bus.read(regmap.by_name("LAYER").offset)
    assert la >> 19 & 0x1F == 0 and (la >> 8 & 0xFF) == err and (la & 0xFF) == (layer & 0xFF), \
        f"la_data_o {la:#08x} after the run: ERROR {err}, LAYER {layer}"
