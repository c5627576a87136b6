"""cocotb unit testbench of unet_core, the engine, on its own (toplevel unet_core).

The testbench drives the engine's control ports directly (no register block): a start pulse,
the mode inputs and the single-layer fields, with cocotbext-axi stream source and sink on its
AXI-Stream ports. The model is the NumPy reference, whose outputs (final and per layer-table
row) are in UNETACCEL_TB_DATA; UNETACCEL_TB_LAYOUT is the generated layout.json.
"""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from unetaccel.codegen import regmap

from .protocol import hwc, quiet_buses
from .tb_accel import compare_stream


class Core:
    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        quiet_buses(dut, "s_axis", "m_axis")
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        for name in ("start", "abort", "single", "out_logits", "sl_load", "sl_store", "sl_op", "sl_cin0", "sl_cin1",
                     "sl_cout", "sl_h", "sl_w", "sl_k", "sl_pad", "sl_src0", "sl_src1", "sl_dst", "sl_wbase",
                     "sl_pbase", "sl_lo", "sl_hi", "wl_we", "wl_region", "wl_index", "wl_part", "wl_data"):
            getattr(dut, name).value = 0
        self.err = None
        cocotb.start_soon(self._done_monitor())

    async def _done_monitor(self):
        while True:
            await RisingEdge(self.dut.done)
            self.err = int(self.dut.err.value)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 4)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def start(self, single: bool, row: dict | None = None, load=False, store=False, logits=False):
        dut = self.dut
        await FallingEdge(dut.clk)
        dut.single.value = int(single)
        dut.out_logits.value = int(logits)
        dut.sl_load.value = int(load)
        dut.sl_store.value = int(store)
        if row is not None:
            dut.sl_op.value = row["op"]
            for f in ("cin0", "cin1", "cout", "h", "w", "k", "pad", "src0", "src1", "dst", "wbase", "pbase"):
                getattr(dut, f"sl_{f}").value = row[f] & 0xFFFFFFFF
            dut.sl_lo.value = row["lo"] & 0xFFFFFFFF
            dut.sl_hi.value = row["hi"] & 0xFFFFFFFF
        self.err = None
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0

    async def wait_done(self, limit=50_000_000):
        if self.err is None:
            await with_timeout(RisingEdge(self.dut.done), limit * 10, "ns")
            await FallingEdge(self.dut.clk)
        return self.err


def _data():
    return np.load(os.environ["UNETACCEL_TB_DATA"])


def _rows():
    with open(os.environ["UNETACCEL_TB_LAYOUT"]) as fh:
        return json.load(fh)["layers"]


@cocotb.test()
async def test_core_whole_network(dut):
    data = _data()
    c = Core(dut)
    await c.reset()
    for i, img in enumerate(data["images"]):
        await c.start(False)
        await c.source.send(AxiStreamFrame(hwc(img)))
        out = await c.sink.recv()
        assert await c.wait_done() == regmap.ERRORS["none"], f"image {i}: error {c.err}"
        mism, first = compare_stream(bytes(out.tdata), data["classes"][i].astype(np.uint8).tobytes())
        assert mism == 0, f"image {i}: {mism} mismatching bytes, first {first}"
        assert dut.busy.value == 0


@cocotb.test()
async def test_core_each_layer(dut):
    """Every layer-table row through the single-layer ports, its output compared; the products
    the engine derived by shift-add from the registers are the generator's (rtl_project.derived),
    which whole-network mode takes from the layer table."""
    data = _data()
    rows = _rows()
    c = Core(dut)
    await c.reset()
    img = data["images"][0]
    for i, row in enumerate(rows):
        await c.start(True, row, load=(i == 0), store=True)
        if i == 0:
            await c.source.send(AxiStreamFrame(hwc(img)))
        out = await c.sink.recv()
        assert await c.wait_done() == regmap.ERRORS["none"], f"layer {i}: error {c.err}"
        for f in ("hw_in", "hw_out", "taps", "wcount", "words0", "words1", "words_out"):
            assert int(getattr(dut, f).value) == row[f], f"layer {i}: derived {f} {int(getattr(dut, f).value)}, table {row[f]}"
        mism, first = compare_stream(bytes(out.tdata), hwc(data[f"layer_{i}"][0]))
        assert mism == 0, f"layer {i}: {mism} mismatching bytes, first {first}"


@cocotb.test()
async def test_core_rejects_and_recovers(dut):
    """A bad configuration ends with done and its error code within a few cycles; no stream
    beat moves; the next run is exact."""
    data = _data()
    rows = _rows()
    conv = next(r for r in rows if r["op"] == regmap.OPCODES["conv_bn"])
    c = Core(dut)
    await c.reset()
    for change, code in (({"op": max(regmap.OPCODES.values()) + 1}, "bad_opcode"), ({"k": 5}, "bad_kernel"), ({"w": 0}, "bad_size"),
                         ({"cout": 0}, "bad_channels"), ({"dst": 1 << 30}, "bad_address")):
        await c.start(True, {**conv, **change}, load=True, store=True)
        assert await c.wait_done(limit=100) == regmap.ERRORS[code], f"{change}: error {c.err}, expected {code}"
        assert dut.s_axis_tready.value == 0 and dut.m_axis_tvalid.value == 0
    await c.start(False)
    await c.source.send(AxiStreamFrame(hwc(data["images"][0])))
    out = await c.sink.recv()
    assert await c.wait_done() == regmap.ERRORS["none"]
    assert compare_stream(bytes(out.tdata), data["classes"][0].astype(np.uint8).tobytes())[0] == 0
