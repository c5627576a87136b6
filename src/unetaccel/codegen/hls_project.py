"""IR -> a self-contained C/HLS project (BUILD/hls).

The kernels are a fixed template library; the generator emits only what is
network-specific: one config struct and one call per layer, the buffer layout,
the ROM arrays, the trace table of the testbench. Deterministic output.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..ir.arith import fits
from ..ir.graph import IR, IRError
from . import regmap
from .layout import BOARD_PART, allocate, check_lanes, groups, max_weight_bits, pack_channels, pack_conv, pack_convt, plan
from .cache import generation_record, locked, write_stamp
from .render import render
from .writer import write_files

TEMPLATES = ("unet_types.h", "unet_kernels.h", "unet_config.h", "unet_weights.h", "unet_weights.cpp",
             "unet_top.h", "unet_top.cpp", "unet_regmap.h", "tb_unet.cpp", "run_hls.tcl", "README.md")
DEFAULT_PART = BOARD_PART
DEFAULT_LANES = (8, 8)
DEFAULT_CLOCK_NS = 10.0
VITIS_BLOCK_CONTROL = (0x000, 0x004, 0x008, 0x00C)  # ap_ctrl_hs: control, GIE, IER, ISR (fixed by Vitis)
SHIFT_BITS = 7  # unet_types.h: requantization shifts are within +-40 (the IR checks it)


def _rom_body(a: np.ndarray) -> str:
    return "\n".join("    {" + ",".join(str(x) for x in row) + "}," for row in a.astype(np.int64).tolist())


def _fits(arr: np.ndarray, bits: int, what: str) -> None:
    if not fits(arr, bits):
        raise IRError(f"{what}: values in [{int(arr.min())}, {int(arr.max())}] do not fit {bits} signed bits")


def emit_hls(ir: IR, lanes=DEFAULT_LANES, part: str = DEFAULT_PART, clock_ns: float = DEFAULT_CLOCK_NS,
             ir_file: str = "model.json") -> dict[str, str]:
    """The HLS project's files, {path relative to the project folder: text}."""
    pin, pout = check_lanes(lanes)
    steps = plan(ir)
    T = ir.tensors
    for s in steps:  # the kernels' storage types: uint8 activation codes, int8 logits
        for t in (*s.inputs, s.output):
            ty, want_signed = T[t].type, t == ir.logits
            if t != ir.classes and (ty.bits != 8 or ty.signed != want_signed):
                raise IRError(f"tensor '{t}': the HLS generator takes 8-bit unsigned activations and 8-bit signed "
                              f"logits, not {ty.bits}-bit {'signed' if ty.signed else 'unsigned'}")
    slots, where = allocate(ir, steps, size_of=lambda shape: groups(shape[0], pin) * shape[1] * shape[2])

    def buf(t):
        return f"slot{where[t]}"

    roms = []
    trace_table = [{"name": ir.input, "kind": "input", "c": T[ir.input].shape[0], "h": T[ir.input].shape[1],
                    "w": T[ir.input].shape[2]}]

    def rom(name, words, ctype, bits, doc):
        _fits(words, bits, f"{doc} (ROM {name})")
        roms.append({"name": name, "ctype": ctype, "words": int(words.shape[0]), "lanes": int(words.shape[1]),
                     "doc": doc, "body": _rom_body(words)})
        return name

    def add_trace(tensor, kind):
        c, h, w = T[tensor].shape
        trace_table.append({"name": tensor, "kind": kind, "c": c, "h": h, "w": w, "index": len(trace_table)})
        return trace_table[-1]

    acc_trace = 0
    for i, s in enumerate(steps):
        lay = s.layers[0]
        c = dict(s.consts)
        for bits, what in ((s.acc_bits, "accumulator"), (s.prod_bits, "BatchNorm product")):
            if bits > 62:
                raise IRError(f"layer '{lay.name}': a {bits}-bit {what} is wider than the C kernels take (62)")
        s.x0 = buf(s.inputs[0]) if s.inputs and s.inputs[0] in where else ""
        s.y = buf(s.output) if s.output in where else ""
        if s.kind == "conv_bn_relu":
            bn = s.layers[1]
            wb, mb, bb = int(lay.attrs["weight_bits"]), int(bn.attrs["mul_bits"]), int(bn.attrs["bias_bits"])
            s.x1 = buf(s.inputs[1]) if len(s.inputs) > 1 else "unused_x1"
            wt = ir.param(lay, "weight")
            s.roms = {"w": rom(f"w{i}", pack_conv(wt, c["CIN0"], pin, pout), f"{s.cfg}::w_rom_t", wb,
                               f"{lay.name} weights {list(wt.shape)}"),
                      "m": rom(f"m{i}", pack_channels(ir.param(bn, "mul"), c["COUT"], pout), f"{s.cfg}::mul_rom_t",
                               mb, f"{bn.name} multipliers"),
                      "b": rom(f"b{i}", pack_channels(ir.param(bn, "bias"), c["COUT"], pout), f"{s.cfg}::bias_rom_t",
                               bb, f"{bn.name} biases"),
                      "s": rom(f"s{i}", pack_channels(ir.param(bn, "shift"), c["COUT"], pout), "shift_rom_t",
                               SHIFT_BITS, f"{bn.name} shifts")}
            s.types = [("w", wb, f"weights ({wb}-bit, IR weight_bits)"),
                       ("mul", mb, f"BatchNorm multiplier ({mb}-bit, IR mul_bits)"),
                       ("bias", bb, f"BatchNorm bias ({bb}-bit, IR bias_bits)"),
                       ("acc", s.acc_bits, f"accumulator, worst case {s.acc_bits} bits (IR acc_bits)"),
                       ("prod", s.prod_bits, f"acc * mul + bias, {s.prod_bits} bits (IR prod_bits)")]
            s.geom = (c["H"], c["W"], c["K"], c["PAD"], c["CIN0"] + c["CIN1"], c["COUT"])
            s.traces = [add_trace(lay.output, "acc"), add_trace(s.output, "act")]
            acc_trace = max(acc_trace, int(np.prod(T[lay.output].shape)))
        elif s.kind == "conv1x1_bias":
            wb = int(lay.attrs["weight_bits"])
            wt = ir.param(lay, "weight")
            s.roms = {"w": rom(f"w{i}", pack_conv(wt, c["CIN"], pin, pout), f"{s.cfg}::w_rom_t", wb,
                               f"{lay.name} weights {list(wt.shape)}"),
                      "b": rom(f"b{i}", pack_channels(ir.param(lay, "bias"), c["COUT"], pout),
                               f"{s.cfg}::bias_rom_t", s.acc_bits, f"{lay.name} biases"),
                      "s": rom(f"s{i}", pack_channels(ir.param(lay, "shift"), c["COUT"], pout), "shift_rom_t",
                               SHIFT_BITS, f"{lay.name} shifts")}
            s.types = [("w", wb, f"weights ({wb}-bit, IR weight_bits)"),
                       ("bias", s.acc_bits, "bias (fits the accumulator)"),
                       ("acc", s.acc_bits, f"accumulator incl. bias, worst case {s.acc_bits} bits (IR acc_bits)")]
            s.geom = (c["H"], c["W"], 1, 0, c["CIN"], c["COUT"])
            s.traces = [add_trace(s.output, "logits")]
        elif s.kind == "conv_transpose2x2":
            wb = int(lay.attrs["weight_bits"])
            wt = ir.param(lay, "weight")
            s.roms = {"w": rom(f"w{i}", pack_convt(wt, pin, pout), f"{s.cfg}::w_rom_t", wb,
                               f"{lay.name} weights {list(wt.shape)}"),
                      "s": rom(f"s{i}", pack_channels(ir.param(lay, "shift"), c["COUT"], pout), "shift_rom_t",
                               SHIFT_BITS, f"{lay.name} shifts")}
            s.types = [("w", wb, f"weights ({wb}-bit, IR weight_bits)"),
                       ("acc", s.acc_bits, f"accumulator, worst case {s.acc_bits} bits (IR acc_bits)")]
            s.geom = (c["H"], c["W"], 2, 0, c["CIN"], c["COUT"])
            s.traces = [add_trace(s.output, "act")]
        elif s.kind == "add_requant":
            s.x1 = buf(s.inputs[1])
            s.roms = {"s": rom(f"s{i}", pack_channels(ir.param(lay, "shift"), c["C"], pout), "shift_rom_t",
                               SHIFT_BITS, f"{lay.name} shifts")}
            s.types = [("acc", s.acc_bits, f"a + b, worst case {s.acc_bits} bits (IR acc_bits)")]
            s.geom = (c["H"], c["W"], 1, 0, c["C"], c["C"])
            s.traces = [add_trace(s.output, "act")]
        elif s.kind == "maxpool2x2":
            s.geom = (c["H"], c["W"], 2, 0, c["C"], c["C"])
            s.traces = [add_trace(s.output, "act")]
        elif s.kind == "argmax":
            s.geom = (c["H"], c["W"], 1, 0, c["K"], 1)
            s.traces = [add_trace(s.output, "classes")]
    if trace_table[-1]["name"] != ir.classes or trace_table[-2]["name"] != ir.logits:
        raise IRError("HLS generator: the network must end with the logits conv followed by argmax")
    in_c, in_h, in_w = T[ir.input].shape
    if tuple(T[ir.logits].shape) != (ir.num_classes, in_h, in_w):
        raise IRError(f"HLS generator: the logits must have the input's size {in_h}x{in_w}")
    reg = {r.name: r.offset for r in regmap.REGISTERS}
    # the top's AXI-Lite ports at the register map's offsets. Vitis reserves the 32-bit word
    # after each port's data words for its control protocol (even for ap_none): two registers
    # that the map places 4 bytes apart are one wider port (LAYER + NUM_LAYERS, CYCLES_LO + _HI,
    # ID + VERSION + CONFIG). Status ports are ap_none: the register follows the port.
    ports = [{"name": "dim", "offset": reg["DIM"], "ap_none": True},
             {"name": "kernel", "offset": reg["KERNEL"], "ap_none": True},
             {"name": "channels", "offset": reg["CHANNELS"], "ap_none": True},
             {"name": "mode", "offset": reg["MODE"], "ap_none": False},
             {"name": "layers", "offset": reg["LAYER"], "ap_none": True},
             {"name": "cycles", "offset": reg["CYCLES_LO"], "ap_none": True},
             {"name": "error", "offset": reg["ERROR"], "ap_none": True},
             {"name": "ident", "offset": reg["ID"], "ap_none": True}]
    for a, b, what in ((reg["LAYER"], reg["NUM_LAYERS"], "NUM_LAYERS"),
                       (reg["CYCLES_LO"], reg["CYCLES_HI"], "CYCLES_HI"),
                       (reg["ID"], reg["VERSION"], "VERSION"), (reg["ID"], reg["CONFIG"] - 4, "CONFIG")):
        if b != a + 4:  # pragma: no cover - guards the packing above against a changed register map
            raise RuntimeError(f"register map: {what} is no longer the word after its partner; "
                               "the HLS top's wide ports need updating")
    ctrl = regmap.fields()["CTRL"]
    if ((reg["CTRL"], reg["GIE"], reg["IER"], reg["ISR"]) != VITIS_BLOCK_CONTROL
            or (ctrl["ap_start"].lsb, ctrl["ap_done"].lsb, ctrl["ap_idle"].lsb) != (0, 1, 2)):  # pragma: no cover
        raise RuntimeError("register map: CTRL / GIE / IER / ISR or the ap_start / ap_done / ap_idle bits are no "
                           "longer where Vitis' ap_ctrl_hs block control puts them; the HLS top cannot follow")
    hg, wd, k, pad, cin, cout = steps[-1].geom
    last_regs = {"dim": regmap.pack("DIM", height=hg, width=wd),
                 "kernel": regmap.pack("KERNEL", kernel_size=k, padding=pad),
                 "channels": regmap.pack("CHANNELS", in_channels=cin, out_channels=cout),
                 "config": regmap.pack("CONFIG", pin=pin, pout=pout, weight_bits=max_weight_bits(ir))}
    ctx = {
        "banner": f"Generated by unetaccel from the IR '{ir.name}'. Do not edit.",
        "name": ir.name, "ir_file": ir_file, "ir_layers": len(ir.layers),
        "in_c": in_c, "in_h": in_h, "in_w": in_w, "num_classes": ir.num_classes,
        "pin": pin, "pout": pout, "weight_bits": max_weight_bits(ir), "part": part, "clock_ns": clock_ns, "steps": steps,
        "slots": [{"words": s.size, "tensors": s.tensors} for s in slots], "input_slot": where[ir.input],
        "acc_trace_size": max(acc_trace, 1), "roms": roms, "trace_table": trace_table,
        "constants": regmap.constants(), "reg": reg, "ports": ports, "last_regs": last_regs,
        # single-layer mode is the RTL's: the HLS core rejects a start in it with bad_mode
        "err_bad_mode": regmap.ERRORS["bad_mode"], "err_bad_size": regmap.ERRORS["bad_size"],
        "rom_values": sum(r["words"] * r["lanes"] for r in roms),
        "fields": regmap.fields(), "regmap_table": regmap.markdown(),
        "single_layer_regs": [r for r in regmap.REGISTERS if r.single_layer_only],
    }
    ctx["regmap_h"] = regmap.c_header(ctx["banner"])
    files = {name: render(f"hls_project/{name}.j2", ctx) for name in TEMPLATES}
    files["trace.json"] = json.dumps({"ir": ir_file, "tensors": [t["name"] for t in trace_table]}, indent=1) + "\n"
    return files


def generate_hls(ir: IR, out_dir, lanes=DEFAULT_LANES, part: str = DEFAULT_PART, clock_ns: float = DEFAULT_CLOCK_NS,
                 ir_file: str = "model.json") -> list[Path]:
    """Write the HLS project into out_dir (BUILD/hls), rewriting only the files whose text changed,
    and its stamp (what it was made from: `unetaccel csim` reads it); returns the project's files."""
    files = emit_hls(ir, lanes, part, clock_ns, ir_file)
    with locked(out_dir):
        written = write_files(out_dir, files)
        write_stamp(out_dir, generation_record(ir, ir_file=ir_file, lanes=[int(v) for v in lanes], part=part,
                                               clock_ns=clock_ns))
    return written


def trace_order(out_dir) -> list[str]:
    """IR tensor names in the order the testbench expects them in ref_<i>.bin."""
    return json.loads((Path(out_dir) / "trace.json").read_text())["tensors"]
