"""cocotb testbench of the generated accelerator top (tb_unet wrapping unet_accel).

Driven by environment variables set by :mod:`unetaccel.rtl_sim.runner`:
UNETACCEL_TB_DATA (an .npz with `images` uint8 N x C x H x W, `classes`, `logits`),
UNETACCEL_TB_RESULT (optional: JSON written with per-image results), UNETACCEL_TB_LOGITS (0/1),
UNETACCEL_TB_PAUSE ('', 'idle', 'bp' or 'idle,bp': idle gaps on the input stream,
backpressure on the output; 'hold': the output held not-ready for long stretches, HOLD_CYCLES
at a time), UNETACCEL_TB_LAYOUT (the generated layout.json: layer table).
The .npz may also hold `layer_<i>` (the reference output of table row i, N x C x H x W) and
`wl_<region>` (words for the run-time parameter load path, written before the images).
The model is the NumPy reference (its outputs are in the .npz); the checker is in order.
Every test asserts on what it compares: test_network fails on any image whose output differs
from the .npz, whose ERROR is not none or whose CTRL is not done + idle; test_single_layer on
any such layer. The results are written first, so a failed run still reports every image.
Register words are built and read with unetaccel.codegen.regmap (pack / unpack).
"""
from __future__ import annotations

import itertools
import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Edge, RisingEdge, Timer, with_timeout
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiResp, AxiStreamBus, AxiStreamFrame, AxiStreamSink,
                           AxiStreamSource)

from unetaccel.codegen import regmap
from unetaccel.rtl_sim.protocol import hwc, layer_registers, quiet_buses
from unetaccel.ir.ops import MAX_SHIFT

R = {r.name: r.offset for r in regmap.REGISTERS}
START = regmap.pack("CTRL", ap_start=1)
CLEAR_DONE = regmap.pack("ISR", done=1)
CTRL_BITS = sum(f.mask for f in regmap.by_name("CTRL").fields)


class TB:
    def __init__(self, dut):
        self.dut = dut
        cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
        quiet_buses(dut, "s_axil", "s_axis", "m_axis")
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)

    async def reset(self):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 5)
        self.dut.rst.value = 0
        await ClockCycles(self.dut.clk, 2)

    async def read(self, name):
        return await self.axil.read_dword(R[name])

    async def write(self, name, value):
        await self.axil.write_dword(R[name], value)

    def set_pause(self, idle: bool, backpressure: bool, hold: bool = False):
        """Idle gaps on the input stream and/or backpressure on the output stream, or the output
        held not-ready for HOLD_CYCLES at a time (then ready for 8 cycles)."""
        self.source.set_pause_generator(itertools.cycle([1, 1, 0, 0, 0]) if idle else None)
        out = [1] * HOLD_CYCLES + [0] * 8 if hold else [1, 0, 0] if backpressure else None
        self.sink.set_pause_generator(itertools.cycle(out) if out else None)


def compare_stream(got: bytes, want: bytes):
    """(mismatching bytes, the first one) of an output frame against the expected bytes: exactly
    those (the last beat's TKEEP names its bytes; the sink drops the others)."""
    want_a = np.frombuffer(want, np.uint8)
    got_a = np.frombuffer(got, np.uint8)
    n = min(len(got_a), len(want_a))
    diff = np.flatnonzero(got_a[:n] != want_a[:n])
    mism = int(len(diff)) + abs(len(got_a) - len(want_a))
    if not mism:
        return 0, None
    j = int(diff[0]) if len(diff) else n
    return mism, {"byte": j, "beat": j // 4, "rtl": int(got_a[j]) if j < len(got_a) else None,
                  "reference": int(want_a[j]) if j < len(want_a) else None}


async def run_image(tb: TB, img: np.ndarray, logits: bool):
    """Start, stream the image (HWC bytes), collect the output frame, wait for done."""
    await tb.write("MODE", regmap.pack("MODE", logits=int(logits)))
    await enable_interrupt(tb)
    await tb.write("CTRL", START)
    frame = AxiStreamFrame(hwc(img))
    await tb.source.send(frame)
    out = await tb.sink.recv()
    if not tb.dut.irq.value:
        await RisingEdge(tb.dut.irq)
    ctrl = await tb.axil.read_dword(R["CTRL"])
    cycles = (await tb.axil.read_dword(R["CYCLES_HI"])) << 32 | await tb.axil.read_dword(R["CYCLES_LO"])
    err = await tb.axil.read_dword(R["ERROR"])
    await tb.write("ISR", CLEAR_DONE)
    return bytes(out.tdata), ctrl, cycles, err


async def enable_interrupt(tb: TB):
    """GIE and IER on: the done interrupt (irq) is raised at the end of each run."""
    await tb.write("GIE", regmap.pack("GIE", enable=1))
    await tb.write("IER", regmap.pack("IER", done=1))


def ended_cleanly(ctrl: int) -> bool:
    """CTRL after a run that completed without error: done and idle, no error, not running."""
    return ctrl & CTRL_BITS == regmap.pack("CTRL", ap_done=1, ap_idle=1)


def _layout():
    with open(os.environ["UNETACCEL_TB_LAYOUT"]) as fh:
        return json.load(fh)


STATE_RECV, STATE_LOAD, STATE_SEND = 1, 2, 8  # unet_core's sequencer states
HOLD_CYCLES = 500  # UNETACCEL_TB_PAUSE 'hold': cycles the output stream is held not-ready at a time
# Protocol tests run on a small network (a run is well under 1 ms of simulated time): a hang
# fails the test instead of blocking the regression.
PROTOCOL_TIMEOUT_MS = 200


async def _profile(dut, events: list):
    """Record (cycle, state, layer) at every change of the core's state: a few per layer, so it
    costs nothing next to the run (no per-cycle Python)."""
    core = dut.dut.core
    while True:
        await Edge(core.state)
        events.append((int(cocotb.utils.get_sim_time("ns")) // 10, int(core.state.value), int(core.layer.value)))


async def _held(dut, spans: list):
    """Record (cycle, value) at every change of the core's cr_ok: low while the fused argmax
    holds its issue for want of room for class bytes (output backpressure)."""
    core = dut.dut.core
    while True:
        await Edge(core.cr_ok)
        spans.append((int(cocotb.utils.get_sim_time("ns")) // 10, int(core.cr_ok.value)))


def held_cycles(spans) -> int:
    """Cycles cr_ok was low, from _held's changes."""
    return sum(t1 - t0 for (t0, v), (t1, _) in zip(spans, spans[1:]) if v == 0)


def layer_cycles(events, num_layers):
    """Cycles per phase of one run: stream in (S_RECV: single-layer mode's load; a whole-network
    run takes its image while the first row runs), each table row (load .. next row), stream out."""
    out = {"recv": 0, "send": 0, "layers": [0] * num_layers}
    for (t0, st, lay), (t1, _, _) in zip(events, events[1:]):
        if st == STATE_RECV:
            out["recv"] += t1 - t0
        elif st == STATE_SEND:
            out["send"] += t1 - t0
        elif st != 0 and lay < num_layers:
            out["layers"][lay] += t1 - t0
    return out


async def load_parameters(tb: TB, data):
    """Write every region of the run-time load path (only while idle). A weight word takes
    `weight_parts` writes (layout.json), an entry of the other regions one."""
    n = 0
    parts = _layout()["weight_parts"]
    for name, region in regmap.WLOAD_REGIONS.items():
        words = data[f"wl_{name}"]
        await tb.write("WLOAD_ADDR", regmap.pack("WLOAD_ADDR", region=region))
        for v in words.tolist():
            await tb.write("WLOAD_DATA", int(v))
        n += len(words)
        entries = len(words) // parts if name == "weights" else len(words)
        got = await tb.read("WLOAD_ADDR")
        assert got == regmap.pack("WLOAD_ADDR", region=region, index=entries), \
            f"WLOAD_ADDR {got:#x} after {len(words)} writes to {name}"
        assert await tb.read("WLOAD_STATUS") == 0, f"a write to {name} was refused"
    return n


@cocotb.test()
async def test_network(dut):
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    images, classes, logits_ref = data["images"], data["classes"], data["logits"]
    use_logits = os.environ.get("UNETACCEL_TB_LOGITS", "0") == "1"
    tb = TB(dut)
    pause = os.environ.get("UNETACCEL_TB_PAUSE", "")
    tb.set_pause("idle" in pause, "bp" in pause, "hold" in pause)
    await tb.reset()
    ident = await tb.axil.read_dword(R["ID"])
    nl = await tb.axil.read_dword(R["NUM_LAYERS"])
    results = {"id": ident, "num_layers": nl, "images": []}
    if "wl_weights" in data:
        results["loaded_words"] = await load_parameters(tb, data)
    for i, img in enumerate(images):
        events, spans = [], []
        prof = cocotb.start_soon(_profile(dut, events))
        held = cocotb.start_soon(_held(dut, spans))
        run = run_image(tb, img, use_logits)
        # held output: a lost byte would leave the frame short for ever; fail instead of hanging
        got, ctrl, cycles, err = await (with_timeout(run, PROTOCOL_TIMEOUT_MS, "ms") if "hold" in pause else run)
        prof.cancel()
        held.cancel()
        if use_logits:
            want = (logits_ref[i].transpose(1, 2, 0).ravel() & 0xFF).astype(np.uint8).tobytes()
        else:
            want = classes[i].astype(np.uint8).ravel().tobytes()
        mism, first = compare_stream(got, want)
        results["images"].append({"index": i, "bytes": len(got), "expected_bytes": len(want),
                                  "mismatches": mism, "first": first, "cycles": cycles, "ctrl": ctrl, "error": err,
                                  "profile": layer_cycles(events, nl), "held": held_cycles(spans)})
        dut._log.info("image %d: %d mismatches, %d cycles", i, mism, cycles)
    leftover = not tb.sink.empty()
    _write_result(results)
    await Timer(1, "ns")
    # the verdict, after the results are written: every image exact, no error, a clean end
    bad = [f"image {r['index']}: {r['mismatches']} mismatching bytes (of {r['expected_bytes']}, first {r['first']}), "
           f"ERROR {r['error']}, CTRL {r['ctrl']:#x}" for r in results["images"]
           if r["mismatches"] or r["error"] != regmap.ERRORS["none"] or not ended_cleanly(r["ctrl"])]
    assert not bad, "; ".join(bad)
    assert not leftover, "output beats left over in the sink"


def _expected(i, classes):
    return classes[i].astype(np.uint8).ravel().tobytes()


def _logits(i, logits):
    """The logits stream of image i: int8 codes in HWC order."""
    return (logits[i].transpose(1, 2, 0).ravel() & 0xFF).astype(np.uint8).tobytes()


async def _wait_done(tb: TB, limit_cycles: int = 200_000_000):
    """Await the done interrupt (an event, not a poll of every cycle)."""
    if not tb.dut.irq.value:
        await with_timeout(RisingEdge(tb.dut.irq), limit_cycles * 10, "ns")


def _write_result(results: dict) -> None:
    """result.json for the caller (rtlsim prints from it), when one is asked for."""
    path = os.environ.get("UNETACCEL_TB_RESULT")
    if path:
        with open(path, "w") as fh:
            json.dump(results, fh)


def single_mode(load: bool = False, store: bool = False) -> int:
    """MODE for a single-layer run: optionally take the source tensor from, and send the output on,
    the streams."""
    return regmap.pack("MODE", single_layer=1, load=int(load), store=int(store))


async def program_layer(tb: TB, row: dict, mode: int):
    """The single-layer registers from one layer-table row (docs/registers.md)."""
    for reg, value in layer_registers(row):
        await tb.write(reg, value)
    await tb.write("MODE", mode)


@cocotb.test()
async def test_single_layer(dut):
    """Single-layer mode: the firmware's way. Each row of the generated table is programmed into
    the registers and run on its own; the image is loaded with the first layer, and every layer's
    output is streamed out and compared with the reference's output of that layer."""
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    rows = _layout()["layers"]
    tb = TB(dut)
    await tb.reset()
    await enable_interrupt(tb)
    results = {"images": []}
    for n, img in enumerate(data["images"]):
        layers = []
        for i, row in enumerate(rows):
            load = i == 0
            await program_layer(tb, row, single_mode(load=load, store=True))
            dim = regmap.unpack("DIM", await tb.read("DIM"))
            assert dim == {"height": row["h"], "width": row["w"]}, f"layer {i}: DIM reads {dim}"
            await tb.write("CTRL", START)
            if load:
                await tb.source.send(AxiStreamFrame(hwc(img)))
            out = await tb.sink.recv()
            await _wait_done(tb)
            err = await tb.read("ERROR")
            ctrl = await tb.read("CTRL")
            cycles = await tb.read("CYCLES_LO")
            await tb.write("ISR", CLEAR_DONE)
            mism, first = compare_stream(bytes(out.tdata), hwc(data[f"layer_{i}"][n]))
            if mism:
                dut._log.error("image %d layer %d (%s): %d mismatches, first %s", n, i, _layout()["steps"][i],
                               mism, first)
            layers.append({"layer": i, "mismatches": mism, "first": first,
                           "error": err, "ctrl": ctrl, "cycles": cycles})
        results["images"].append({"index": n, "layers": layers,
                                  "mismatches": sum(x["mismatches"] for x in layers)})
        dut._log.info("image %d: single-layer mode, %d layers, %d mismatches", n, len(rows),
                      results["images"][-1]["mismatches"])
    _write_result(results)
    # the verdict, after the results are written: every layer of every image exact, no error
    bad = [f"image {im['index']} layer {x['layer']} ({_layout()['steps'][x['layer']]}): {x['mismatches']} "
           f"mismatching bytes (first {x['first']}), ERROR {x['error']}, CTRL {x['ctrl']:#x}"
           for im in results["images"] for x in im["layers"]
           if x["mismatches"] or x["error"] != regmap.ERRORS["none"] or not ended_cleanly(x["ctrl"])]
    assert not bad, "; ".join(bad)


REJECT_CYCLES = 100  # a bad configuration is refused within S_DERIVE's few dozen cycles


async def _expect_rejected(tb: TB, what: str, code: str):
    await tb.write("CTRL", START)
    for _ in range(REJECT_CYCLES // 10):
        await ClockCycles(tb.dut.clk, 10)
        ctrl = await tb.read("CTRL")
        if ctrl & regmap.pack("CTRL", ap_done=1):
            break
    assert ctrl & CTRL_BITS == regmap.pack("CTRL", ap_done=1, ap_idle=1, ap_error=1), \
        f"{what}: CTRL {ctrl:#x}, expected done, idle and error after a rejected start"
    got = await tb.read("ERROR")
    assert got == regmap.ERRORS[code], f"{what}: error code {got}, expected {code} ({regmap.ERRORS[code]})"
    assert tb.dut.irq.value == 1, f"{what}: no interrupt"
    await tb.write("ISR", CLEAR_DONE)
    assert tb.dut.irq.value == 0, f"{what}: the interrupt stays raised after ISR was cleared"


@cocotb.test(timeout_time=PROTOCOL_TIMEOUT_MS, timeout_unit="ms")
async def test_bad_register_values(dut):
    """Every bad single-layer configuration is rejected (done + error + its code), the engine
    stays idle, nothing hangs; then a whole-network run is exact."""
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    rows = _layout()["layers"]
    conv = next(r for r in rows if r["op"] == regmap.OPCODES["conv_bn"])
    pool = next(r for r in rows if r["op"] == regmap.OPCODES["maxpool"])
    big = 1 << 24
    cases = [
        ("op code 0", conv, {"op": 0}, "bad_opcode"),
        ("op code 99", conv, {"op": 99}, "bad_opcode"),
        ("conv kernel 4", conv, {"k": 4, "pad": 1}, "bad_kernel"),
        ("conv padding 0 with kernel 3", conv, {"pad": 0}, "bad_kernel"),
        ("pool kernel 3", pool, {"k": 3}, "bad_kernel"),
        ("height 0", conv, {"h": 0}, "bad_size"),
        ("pool odd width", pool, {"w": pool["w"] - 1}, "bad_size"),
        ("no input channels", conv, {"cin0": 0, "cin1": 0}, "bad_channels"),
        ("no output channels", conv, {"cout": 0}, "bad_channels"),
        ("source beyond the memory", conv, {"src0": big}, "bad_address"),
        ("destination beyond the memory", conv, {"dst": big}, "bad_address"),
        ("weights beyond the memory", conv, {"wbase": big}, "bad_address"),
        ("BatchNorm beyond the memory", conv, {"pbase": big}, "bad_address"),
        ("sizes beyond the buffers", conv, {"h": 4000, "w": 4000}, "bad_address"),
    ]
    tb = TB(dut)
    await tb.reset()
    await enable_interrupt(tb)
    for what, row, change, code in cases:
        await program_layer(tb, {**row, **change}, single_mode())
        await _expect_rejected(tb, what, code)
    # a concat split beyond the channel count (QUANT.split > CHANNELS.in_channels)
    await program_layer(tb, conv, single_mode())
    await tb.write("QUANT", regmap.pack("QUANT", split=conv["cin0"] + conv["cin1"] + 1))
    await _expect_rejected(tb, "concat split beyond the channels", "bad_channels")
    dut._log.info("%d bad configurations rejected", len(cases) + 1)
    await tb.write("MODE", 0)
    got, ctrl, cycles, err = await run_image(tb, data["images"][0], False)
    assert got == _expected(0, data["classes"]) and err == 0 and ended_cleanly(ctrl)


async def _expect_aborted(tb: TB, what: str):
    """An aborted run: ap_done + ap_error + idle, ERROR aborted, and no output frame."""
    await _wait_done(tb, 10_000)
    assert await tb.read("ERROR") == regmap.ERRORS["aborted"], f"{what}: ERROR is not aborted"
    assert (await tb.read("CTRL")) & CTRL_BITS == regmap.pack("CTRL", ap_done=1, ap_idle=1, ap_error=1), \
        f"{what}: CTRL is not done + idle + error"
    await ClockCycles(tb.dut.clk, 50)
    assert tb.sink.empty() and not int(tb.dut.m_axis_tvalid.value), f"{what}: output after the abort"
    await tb.write("ISR", CLEAR_DONE)


async def _status(tb: TB) -> dict:
    """STATUS's bits by name, then cleared (write 1 to clear)."""
    word = await tb.read("STATUS")
    await tb.write("STATUS", word)
    return {k: v for k, v in regmap.unpack("STATUS", word).items() if v}


ABORT = regmap.pack("CTRL", abort=1)


@cocotb.test(timeout_time=PROTOCOL_TIMEOUT_MS, timeout_unit="ms")
async def test_start_while_busy_framing_and_abort(dut):
    """ap_start while busy is ignored (STATUS.start_busy; a WLOAD_DATA write then is refused and a
    read of an unmapped offset reads 0: OKAY, in STATUS). The frame is its bytes: one split over
    two transfers (TLAST early, noted) is exact, as is one with null bytes (TKEEP) between its
    bytes; one whose last beat lacks TLAST is exact (noted) and the source's rest is drained by an
    abort. An abort mid-frame ends the run at once (aborted, no output), the rest of the frame is
    drained; an abort mid-run likewise; nothing hangs, and every next run is exact."""
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    img = data["images"][0]
    want = _expected(0, data["classes"])
    tb = TB(dut)
    await tb.reset()
    await enable_interrupt(tb)
    await tb.write("MODE", 0)
    await tb.write("CTRL", START)
    await tb.write("CTRL", START)  # while busy: ignored
    resp = (await tb.axil.write(R["WLOAD_DATA"], bytes(4))).resp
    assert resp == AxiResp.OKAY, f"a WLOAD_DATA write while busy answered {resp!r} at the top, expected OKAY"
    free = next(a for a in range(0, 1 << regmap.ADDR_BITS, 4) if a not in R.values())
    got = await tb.axil.read(free, 4)
    assert got.resp == AxiResp.OKAY and got.data == bytes(4), f"a read of the free offset {free:#x}: {got!r}"
    assert await _status(tb) == {"start_busy": 1, "load_refused": 1, "bad_offset": 1}
    await tb.source.send(AxiStreamFrame(hwc(img)))
    out = await tb.sink.recv()
    await _wait_done(tb)
    assert bytes(out.tdata) == want and (out.tkeep is None or all(out.tkeep))
    assert tb.sink.empty() and await _status(tb) == {}
    await tb.write("ISR", CLEAR_DONE)
    frame = hwc(img)
    # split over two transfers (each ends with TLAST), at a beat and off a beat
    for cut in (len(frame) // 2 // 4 * 4, len(frame) // 3 * 2 + 1):
        await tb.write("CTRL", START)
        await tb.source.send(AxiStreamFrame(frame[:cut]))
        await tb.source.send(AxiStreamFrame(frame[cut:]))
        out = await tb.sink.recv()
        await _wait_done(tb)
        assert bytes(out.tdata) == want, f"a frame split at byte {cut}"
        assert await tb.read("ERROR") == 0 and await _status(tb) == {"tlast_early": 1}
        await tb.write("ISR", CLEAR_DONE)
    # null bytes between the frame's bytes: every third byte position is a null byte (TKEEP 0)
    padded, keep = [], []
    for i, b in enumerate(frame):
        if i % 3 == 1:
            padded.append(0xEE)
            keep.append(0)
        padded.append(b)
        keep.append(1)
    await tb.write("CTRL", START)
    await tb.source.send(AxiStreamFrame(bytes(padded), tkeep=keep))
    out = await tb.sink.recv()
    await _wait_done(tb)
    assert bytes(out.tdata) == want and await tb.read("ERROR") == 0, "a frame with null bytes"
    assert await _status(tb) == {}
    await tb.write("ISR", CLEAR_DONE)
    # the last beat without TLAST: the image and 8 bytes more in one transfer
    await tb.write("CTRL", START)
    await tb.source.send(AxiStreamFrame(frame + bytes(8 - len(frame) % 4 + 4)))
    out = await tb.sink.recv()
    await _wait_done(tb)
    assert bytes(out.tdata) == want and await tb.read("ERROR") == 0, "a frame whose last beat has no TLAST"
    assert await _status(tb) == {"tlast_missing": 1}
    await tb.write("ISR", CLEAR_DONE)
    assert not tb.source.empty() or not tb.source.idle(), "the source's rest should be waiting"
    # its rest: a start, then an abort; the abort drains it up to its TLAST
    await tb.write("CTRL", START)
    await tb.write("CTRL", ABORT)
    await _expect_aborted(tb, "an abort of a run whose input is another frame's rest")
    await with_timeout(tb.source.wait(), 10_000, "ns")
    # an abort mid-frame: half of the frame, the abort, then the other half (drained)
    await tb.write("CTRL", START)
    await tb.source.send(AxiStreamFrame(frame[:len(frame) // 2]))
    await tb.source.wait()
    await tb.write("CTRL", ABORT)
    await _expect_aborted(tb, "an abort mid-frame")
    await tb.source.send(AxiStreamFrame(frame[len(frame) // 2:]))
    await with_timeout(tb.source.wait(), 100_000, "ns")
    assert await _status(tb) == {"tlast_early": 1}
    got, ctrl, cycles, err = await run_image(tb, img, False)
    assert got == want and err == 0 and ended_cleanly(ctrl), "the run after an abort mid-frame"
    # an abort mid-run: the frame is in, layer 1 or later runs
    await tb.write("CTRL", START)
    await tb.source.send(AxiStreamFrame(frame))
    await tb.source.wait()
    while regmap.unpack("LAYER", await tb.read("LAYER"))["index"] < 1:
        pass
    await tb.write("CTRL", ABORT)
    await _expect_aborted(tb, "an abort mid-run")
    got, ctrl, cycles, err = await run_image(tb, img, False)
    assert got == want and err == 0 and ended_cleanly(ctrl), "the run after an abort mid-run"
    assert tb.sink.empty()
    # single-layer mode loading its source tensor: an abort while it waits for the tensor
    row = _layout()["layers"][0]
    await program_layer(tb, row, single_mode(load=True, store=True))
    await tb.write("CTRL", START)
    await tb.source.send(AxiStreamFrame(bytes(4)))
    await tb.source.wait()
    await tb.write("CTRL", ABORT)
    await _expect_aborted(tb, "single layer, an abort while the tensor comes in")
    await tb.write("MODE", 0)
    got, ctrl, cycles, err = await run_image(tb, img, False)
    assert got == want and err == 0
    assert tb.sink.empty()


@cocotb.test(timeout_time=PROTOCOL_TIMEOUT_MS, timeout_unit="ms")
async def test_reset_mid_run(dut):
    """Reset in the middle of an inference, then a correct one."""
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    img = data["images"][0]
    tb = TB(dut)
    await tb.reset()
    await tb.write("MODE", 0)
    await tb.write("CTRL", START)
    frame = AxiStreamFrame(hwc(img))
    await tb.source.send(frame)
    await tb.source.wait()
    await ClockCycles(dut.clk, 200)
    assert regmap.unpack("CTRL", await tb.read("CTRL"))["ap_start"], "the engine should be busy mid-run"
    await tb.reset()
    assert (await tb.read("CTRL")) & CTRL_BITS == regmap.reset_value("CTRL"), "idle after reset"
    await enable_interrupt(tb)
    got, ctrl, cycles, err = await run_image(tb, img, False)
    assert got == _expected(0, data["classes"]) and err == 0


def _mem_words(name: str) -> int:
    """Words of a generated .mem file beside layout.json (the depth of that memory)."""
    path = os.path.join(os.path.dirname(os.environ["UNETACCEL_TB_LAYOUT"]), name)
    with open(path) as fh:
        return sum(1 for line in fh if line.strip())


@cocotb.test(timeout_time=PROTOCOL_TIMEOUT_MS, timeout_unit="ms")
async def test_load_refused(dut):
    """The load path refuses what the engine cannot use: a shift outside [-MAX_SHIFT, MAX_SHIFT]
    (64 would round 0 to 1), a multiplier or bias beyond the datapath's widths (layout.json's
    mul_bits / bias_bits: the parameter memory keeps only those), an unknown region, an index
    beyond its memory. A refused write stores nothing, still advances the index and sets the
    sticky WLOAD_STATUS bit, which a WLOAD_ADDR write clears; values in range are stored, in
    their field of their lane only. Then an image runs exact (the .npz's logits): the refused
    writes left the parameters intact."""
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    tb = TB(dut)
    await tb.reset()
    pout, parts, dp = _layout()["lanes"][1], _layout()["weight_parts"], _layout()["datapath"]
    pmem = dut.dut.core.pmem
    entries = _mem_words("bn_params.mem") * pout
    regions = regmap.WLOAD_REGIONS
    refused = regmap.pack("WLOAD_STATUS", refused=1)
    # a parameter lane: the multiplier, the bias (whole bytes at the datapath's widths), the shift
    mb, bb = -(-dp["mul_bits"] // 8), -(-dp["bias_bits"] // 8)
    lane_bits = 8 * (mb + bb + 1)
    field = {"bn_mul": (0, mb), "bn_bias": (mb, bb), "shift": (mb + bb, 1)}  # (first byte, bytes)
    assert dp["mul_bits"] < 32 and dp["bias_bits"] < 32, "the network must leave out-of-range values to refuse"

    async def load(region: int, index: int, value: int, want_refused: bool, what: str):
        addr = regmap.pack("WLOAD_ADDR", region=region, index=index)
        await tb.write("WLOAD_ADDR", addr)
        assert await tb.read("WLOAD_STATUS") == 0, "writing WLOAD_ADDR clears WLOAD_STATUS"
        await tb.write("WLOAD_DATA", value & 0xFFFFFFFF)
        got = await tb.read("WLOAD_STATUS")
        assert got == (refused if want_refused else 0), f"{what}: WLOAD_STATUS {got:#x}"
        step = 1 if region != regions["weights"] or parts == 1 else 0  # a weight word: after its last part
        assert await tb.read("WLOAD_ADDR") == addr + step, f"{what}: the index advances"

    def stored(name: str, i: int) -> int:
        """Entry i of a parameter region as the engine holds it (the signed field of its lane)."""
        at, n = field[name]
        v = int(pmem[i // pout].value) >> (lane_bits * (i % pout) + 8 * at) & ((1 << 8 * n) - 1)
        return v - ((v >> (8 * n - 1) & 1) << 8 * n)

    assert await tb.read("WLOAD_STATUS") == 0
    word0 = int(pmem[0].value)
    for name, bits in (("shift", None), ("bn_mul", dp["mul_bits"]), ("bn_bias", dp["bias_bits"])):
        top = MAX_SHIFT if bits is None else (1 << (bits - 1)) - 1  # the largest value the field takes
        low = -MAX_SHIFT if bits is None else -(1 << (bits - 1))
        original = stored(name, 0)
        for v in (top, low, original):  # accepted: lane 0 of group 0 takes the value, nothing else changes
            await load(regions[name], 0, v, False, f"{name} {v}")
            assert stored(name, 0) == v, f"{name} {v} was not stored"
        assert int(pmem[0].value) == word0
        beyond = (64, 127, MAX_SHIFT + 1, -MAX_SHIFT - 1, -128, 0x100, 1 << 31) if bits is None else \
            (top + 1, low - 1, 1 << 31, (1 << 31) - 1)
        for v in beyond:
            await load(regions[name], 0, v, True, f"{name} {v}")
            assert int(pmem[0].value) == word0, f"the refused {name} {v} was stored"
        await load(regions[name], entries - 1, stored(name, entries - 1), False, f"the last {name} entry")
        await load(regions[name], entries, 0, True, f"a {name} index beyond the memory")
    await load(regions["weights"], _layout()["weight_words"], 1, True, "a weight word beyond the memory")
    await load(max(regions.values()) + 1, 0, 1, True, "an unknown region")
    # sticky: an accepted write after a refused one leaves it set, until WLOAD_ADDR is written
    await load(regions["shift"], 0, 64, True, "shift 64")
    await tb.write("WLOAD_DATA", stored("shift", 1) & 0xFFFFFFFF)  # entry 1, its own value: accepted
    assert await tb.read("WLOAD_STATUS") == refused, "WLOAD_STATUS is sticky"
    await tb.write("WLOAD_ADDR", 0)
    assert await tb.read("WLOAD_STATUS") == 0
    assert int(pmem[0].value) == word0
    got, ctrl, _, err = await run_image(tb, data["images"][0], True)
    want = (data["logits"][0].transpose(1, 2, 0).ravel() & 0xFF).astype(np.uint8).tobytes()
    mism, first = compare_stream(got, want)
    assert mism == 0 and err == regmap.ERRORS["none"] and ended_cleanly(ctrl), (mism, first, err, ctrl)


STATE_RUN = 5  # unet_core's S_RUN
SLOW_GAP = 40  # cycles of TVALID low before each beat of a slow input stream


async def _watch_layer0(dut, seen: dict):
    """Per cycle (a short run only): how often layer 0 waited in S_RUN for its input rows (rdy low
    for more than the one cycle of a row change), and at each accepted input beat the core's
    state, layer and the taps layer 0 had issued."""
    core = dut.dut.core
    low = 0
    while True:
        await RisingEdge(dut.clk)
        st, lay = int(core.state.value), int(core.layer.value)
        if int(dut.s_axis_tvalid.value) and int(dut.s_axis_tready.value):
            seen["beats"].append((st, lay, seen["issued"]))
        if st == STATE_RUN and lay == 0:
            seen["issued"] += int(core.issuing.value)
            if not int(core.rdy.value):
                low += 1
                continue
            if low > 1:
                seen["waits"] += 1
        low = 0


@cocotb.test(timeout_time=PROTOCOL_TIMEOUT_MS, timeout_unit="ms")
async def test_slow_input_stream(dut):
    """The image stream overlaps layer 0 (whole-network mode): with SLOW_GAP idle cycles before
    every beat, layer 0 catches up with the stream again and again and waits for the rows its
    taps read; the logits are exact. Then, at the same pace, a frame split over two transfers
    (TLAST at the end of row 6 of 8) is exact, and an abort while layer 0 runs on the rows that
    are in ends the run (aborted, no output) and drains the rest; the next run at full speed is
    exact."""
    data = np.load(os.environ["UNETACCEL_TB_DATA"])
    img = data["images"][0]
    tb = TB(dut)
    await tb.reset()
    tb.source.set_pause_generator(itertools.cycle([1] * SLOW_GAP + [0]))
    seen = {"waits": 0, "issued": 0, "beats": []}
    watch = cocotb.start_soon(_watch_layer0(dut, seen))
    got, ctrl, _, err = await run_image(tb, img, True)  # the logits: every layer's error shows in them
    mism, first = compare_stream(got, _logits(0, data["logits"]))
    assert mism == 0 and err == 0 and ended_cleanly(ctrl), (mism, first, err, ctrl)
    rows = img.shape[1]
    assert seen["waits"] >= rows // 2, f"layer 0 waited for the stream {seen['waits']} times, expected >= {rows // 2}"
    dut._log.info("slow stream: layer 0 waited for its rows %d times", seen["waits"])
    # at the same pace: a frame split over two transfers (exact), and an abort while layer 0 runs
    # on a frame that is half in (no output, the rest drained)
    frame = hwc(img)
    cut = len(frame) * 3 // 4 // 4 * 4  # whole beats: rows 0-5 of 8
    await tb.write("CTRL", START)
    await tb.source.send(AxiStreamFrame(frame[:cut]))
    await tb.source.send(AxiStreamFrame(frame[cut:]))
    out = await tb.sink.recv()
    await _wait_done(tb)
    mism, first = compare_stream(bytes(out.tdata), _logits(0, data["logits"]))
    assert mism == 0 and await tb.read("ERROR") == 0, ("split frame", mism, first)
    await tb.write("ISR", CLEAR_DONE)
    seen.update(issued=0, beats=[])
    await tb.write("CTRL", START)
    await tb.source.send(AxiStreamFrame(frame[:cut]))
    await tb.source.wait()
    assert seen["issued"] > 0, "layer 0 should be running on the rows that are in"
    await tb.write("CTRL", ABORT)
    await _expect_aborted(tb, "slow stream, an abort while layer 0 runs")
    await tb.source.send(AxiStreamFrame(frame[cut:]))
    await with_timeout(tb.source.wait(), 10_000_000, "ns")  # drained
    watch.cancel()
    tb.source.set_pause_generator(None)
    tb.source.pause = False  # (removing the generator leaves the source in its last pause state)
    got, ctrl, _, err = await run_image(tb, img, True)
    mism, first = compare_stream(got, _logits(0, data["logits"]))
    assert mism == 0 and err == 0 and ended_cleanly(ctrl), (mism, first, err, ctrl)
    assert tb.sink.empty()
