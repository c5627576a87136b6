"""cocotb testbench of the IP's top, unet_accel_ip (BUILD/rtl/unet_accel_ip.v, Verilog-2001), as
Vivado and a PYNQ block design see it: ap_clk, ap_rst_n (active low), s_axi_control_*, s_axis_T*
and m_axis_T* (with TKEEP), interrupt.

Driven by the environment of unetaccel.rtl_sim.runner.run_unit: UNETACCEL_TB_LAYOUT (layout.json)
and UNETACCEL_TB_DATA (an .npz with `images`, `classes`, `logits` of the NumPy reference).
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from unetaccel.codegen import regmap
from unetaccel.rtl_sim.protocol import hwc, quiet_buses

R = {r.name: r.offset for r in regmap.REGISTERS}


class IP:
    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
        quiet_buses(dut, "s_axi_control", "s_axis", "m_axis")
        # cocotbext-axi takes a reset signal active high, or active low with reset_active_level=False
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk, dut.ap_rst_n,
                                  reset_active_level=False)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.ap_clk, dut.ap_rst_n,
                                      reset_active_level=False)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.ap_clk, dut.ap_rst_n,
                                  reset_active_level=False)

    async def reset(self, cycles: int = 4):
        self.dut.ap_rst_n.value = 0
        await ClockCycles(self.dut.ap_clk, cycles)
        self.dut.ap_rst_n.value = 1
        await ClockCycles(self.dut.ap_clk, 2)

    async def read(self, name):
        return await self.axil.read_dword(R[name])

    async def write(self, name, value):
        await self.axil.write_dword(R[name], value)


@cocotb.test()
async def test_reset_is_active_low(dut):
    """With ap_rst_n low the slave takes no request (AWREADY and ARREADY stay low, no response);
    with it high registers keep what is written; ap_rst_n low again returns them to their reset
    values. The interrupt output is low through reset."""
    dut.ap_rst_n.value = 0
    for name in ("AWVALID", "WVALID", "ARVALID", "BREADY", "RREADY"):
        getattr(dut, "s_axi_control_" + name).value = 0
    dut.s_axis_TVALID.value = 0
    dut.m_axis_TREADY.value = 0
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    await ClockCycles(dut.ap_clk, 3)
    dut.s_axi_control_ARADDR.value = R["ID"]
    dut.s_axi_control_ARVALID.value = 1
    dut.s_axi_control_AWADDR.value = R["GIE"]
    dut.s_axi_control_AWVALID.value = 1
    for _ in range(8):
        await FallingEdge(dut.ap_clk)
        for pin in ("AWREADY", "ARREADY", "RVALID", "BVALID"):
            assert int(getattr(dut, "s_axi_control_" + pin).value) == 0, f"{pin} rose while ap_rst_n was low"
        assert int(dut.interrupt.value) == 0
    dut.s_axi_control_ARVALID.value = 0
    dut.s_axi_control_AWVALID.value = 0
    await ClockCycles(dut.ap_clk, 2)
    ip = IP(dut)
    await ip.reset()
    assert await ip.read("ID") == regmap.ID_VALUE
    await ip.write("GIE", regmap.pack("GIE", enable=1))
    await ip.write("IER", regmap.pack("IER", done=1))
    await ClockCycles(dut.ap_clk, 10)
    assert await ip.read("GIE") == regmap.pack("GIE", enable=1), "ap_rst_n high must not reset"
    await ip.reset()
    for name in ("GIE", "IER", "CTRL", "STATUS"):
        got = await ip.read(name)
        assert got == regmap.reset_value(name), f"{name} after ap_rst_n low: {got:#x}"


@cocotb.test()
async def test_an_image_through_the_ip(dut):
    """A class map and the logits through the IP's ports (TKEEP on both streams), exact; every
    access OKAY; the interrupt at the end of each run; an unmapped read answers OKAY and sets
    STATUS.bad_offset."""
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    img = data["images"][0]
    ip = IP(dut)
    await ip.reset()
    await ip.write("GIE", regmap.pack("GIE", enable=1))
    await ip.write("IER", regmap.pack("IER", done=1))
    for logits in (False, True):
        await ip.write("MODE", regmap.pack("MODE", logits=int(logits)))
        await ip.write("CTRL", regmap.pack("CTRL", ap_start=1))
        await ip.source.send(AxiStreamFrame(hwc(img)))
        out = await with_timeout(ip.sink.recv(), 50, "ms")
        if not int(dut.interrupt.value):
            await with_timeout(RisingEdge(dut.interrupt), 1, "ms")
        want = (data["logits"][0].transpose(1, 2, 0).ravel() & 0xFF).astype(np.uint8).tobytes() if logits \
            else data["classes"][0].astype(np.uint8).tobytes()
        got = bytes(out.tdata)
        assert got == want, f"{'logits' if logits else 'class map'}: {sum(a != b for a, b in zip(got, want))} " \
                            f"bytes differ ({len(got)} vs {len(want)})"
        assert out.tkeep is None or all(out.tkeep)
        assert await ip.read("ERROR") == 0
        await ip.write("ISR", regmap.pack("ISR", done=1))
        assert int(dut.interrupt.value) == 0
    free = next(a for a in range(0, 1 << regmap.ADDR_BITS, 4) if a not in R.values())
    got = await ip.axil.read(free, 4)
    assert got.resp == AxiResp.OKAY and got.data == bytes(4)
    assert await ip.read("STATUS") == regmap.pack("STATUS", bad_offset=1)
