"""IR -> a self-contained C/HLS project (BUILD/hls).

The kernels are a fixed template library; the generator emits only what is
network-specific: one config struct and one call per layer, the buffer layout,
the ROM arrays, the trace table of the testbench. Deterministic output.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..ir.model import IR, IRError
from . import regmap
from .render import render_to

TEMPLATES = ("unet_types.h", "unet_kernels.h", "unet_config.h", "unet_weights.h", "unet_weights.cpp",
             "unet_top.h", "unet_top.cpp", "unet_regmap.h", "tb_unet.cpp", "run_hls.tcl", "README.md")
DEFAULT_PART = "xc7z020clg400-1"


@dataclass
class Step:
    kind: str
    name: str
    desc: str
    cfg: str
    consts: list
    call: str = ""
    acc_bits: int = 0
    prod_bits: int = 0
    inputs: tuple = ()          # IR activation tensors read (a concat is listed as its parts)
    output: str = ""            # IR tensor written
    traces: list = field(default_factory=list)


@dataclass
class Slot:
    size: int = 0
    tensors: list = field(default_factory=list)
    free_after: int = -2


def plan(ir: IR):
    """Fuse the IR into kernel steps; raise IRError naming a layer the generator cannot map."""
    concat_of: dict[str, tuple[str, str]] = {}
    fused_bn: set[str] = set()
    steps: list[Step] = []
    T = ir.tensors
    for lay in ir.layers:
        where = f"layer '{lay.name}' ({lay.op})"
        if lay.name in fused_bn:
            continue
        a = lay.attrs
        if lay.op == "concat":
            cons = ir.consumers(lay.output)
            if len(cons) != 1 or cons[0].op != "conv2d":
                raise IRError(f"{where}: the HLS generator places a concat next to the conv that reads it; "
                              "it must feed exactly one conv2d")
            concat_of[lay.output] = lay.inputs
            continue
        if lay.op == "conv2d" and not lay.requantizes:
            cons = ir.consumers(lay.output)
            if len(cons) != 1 or cons[0].op != "batchnorm":
                raise IRError(f"{where}: an accumulator output must feed exactly one batchnorm (fused conv+BN)")
            bn = cons[0]
            fused_bn.add(bn.name)
            x = lay.inputs[0]
            parts = concat_of.get(x, (x,))
            c0 = T[parts[0]].shape[0]
            c1 = T[parts[1]].shape[0] if len(parts) > 1 else 0
            cout, h, w = T[lay.output].shape
            k, p = int(a["kernel"]), int(a["padding"])
            steps.append(Step("conv_bn_relu", f"{lay.name}+{bn.name}", f"{c0 + c1}->{cout} {h}x{w} k{k}",
                              "", [("CIN0", c0), ("CIN1", c1), ("COUT", cout), ("H", h), ("W", w), ("K", k),
                                   ("PAD", p), ("LO", int(bn.attrs["lo"])), ("HI", int(bn.attrs["hi"]))],
                              acc_bits=int(a["acc_bits"]), prod_bits=int(bn.attrs["prod_bits"]),
                              inputs=tuple(parts), output=bn.output))
            steps[-1].layers = (lay, bn)
            continue
        if lay.op == "conv2d":
            cout, h, w = T[lay.output].shape
            cin = T[lay.inputs[0]].shape[0]
            if int(a["kernel"]) != 1 or "bias" not in lay.params or not T[lay.output].type.signed \
                    or lay.output != ir.logits:
                raise IRError(f"{where}: a requantizing conv2d is supported as the final 1x1 conv with bias "
                              "(the logits) only")
            steps.append(Step("conv1x1_bias", lay.name, f"{cin}->{cout} {h}x{w}", "",
                              [("CIN", cin), ("COUT", cout), ("H", h), ("W", w), ("LO", int(a["lo"])),
                               ("HI", int(a["hi"]))], acc_bits=int(a["acc_bits"]),
                              inputs=(lay.inputs[0],), output=lay.output))
        elif lay.op == "conv_transpose2d":
            cin, h, w = T[lay.inputs[0]].shape
            cout = T[lay.output].shape[0]
            steps.append(Step("conv_transpose2x2", lay.name, f"{cin}->{cout} {h}x{w} -> {2 * h}x{2 * w}", "",
                              [("CIN", cin), ("COUT", cout), ("H", h), ("W", w), ("LO", int(a["lo"])),
                               ("HI", int(a["hi"]))], acc_bits=int(a["acc_bits"]),
                              inputs=(lay.inputs[0],), output=lay.output))
        elif lay.op == "maxpool2d":
            c, h, w = T[lay.inputs[0]].shape
            steps.append(Step("maxpool2x2", lay.name, f"{c} {h}x{w}", "", [("C", c), ("H", h), ("W", w)],
                              inputs=(lay.inputs[0],), output=lay.output))
        elif lay.op == "argmax":
            k, h, w = T[lay.inputs[0]].shape
            steps.append(Step("argmax", lay.name, f"{k} classes {h}x{w}", "", [("K", k), ("H", h), ("W", w)],
                              inputs=(lay.inputs[0],), output=lay.output))
        else:
            raise IRError(f"{where}: op {lay.op} is not supported by the HLS generator")
        steps[-1].layers = (lay,)
    for i, s in enumerate(steps):
        s.cfg = f"cfg_{i}"
    return steps


def allocate(ir: IR, steps: list[Step], size_of=None):
    """Activation buffers from tensor lifetimes: a tensor lives from the step that writes it
    to the last step that reads it; buffers are reused greedily (ping-pong + skip storage).
    The logits and the class map have buffers of their own. `size_of(shape)` is a tensor's
    size in memory units (default: elements)."""
    last_read: dict[str, int] = {}
    for i, s in enumerate(steps):
        for t in s.inputs:
            last_read[t] = i
    lives = [(ir.input, -1)] + [(s.output, i) for i, s in enumerate(steps) if s.output not in (ir.logits, ir.classes)]
    slots: list[Slot] = []
    where: dict[str, int] = {}
    for t, start in lives:
        end = last_read.get(t, start)
        shape = ir.tensors[t].shape
        size = int(size_of(shape)) if size_of else int(np.prod(shape))
        for k, sl in enumerate(slots):
            if sl.free_after < start:
                break
        else:
            slots.append(Slot())
            k = len(slots) - 1
        sl = slots[k]
        sl.size = max(sl.size, size)
        sl.tensors.append(t)
        sl.free_after = end
        where[t] = k
    return slots, where


def _rom_body(a: np.ndarray, per_line: int = 32) -> str:
    v = a.ravel().astype(np.int64).tolist()
    return "\n".join("    " + ",".join(str(x) for x in v[i:i + per_line]) + "," for i in range(0, len(v), per_line))


def generate_hls(ir: IR, out_dir, lanes=(8, 8), part: str = DEFAULT_PART, clock_ns: float = 10.0,
                 ir_file: str = "model.json", csim_images: int = 8) -> list[Path]:
    """Write the HLS project into out_dir (BUILD/hls); returns the written files."""
    pin, pout = lanes
    steps = plan(ir)
    slots, where = allocate(ir, steps)
    T = ir.tensors

    def ptr(t):
        if t == ir.logits:
            return "logits_buf"
        if t == ir.classes:
            return "classes_buf"
        return f"slot_buf[{where[t]}]"

    roms = []
    trace_table = [{"name": ir.input, "kind": "input", "c": T[ir.input].shape[0], "h": T[ir.input].shape[1],
                    "w": T[ir.input].shape[2]}]

    def rom(name, arr, ctype, doc):
        roms.append({"name": name, "ctype": ctype, "size": int(arr.size), "doc": doc, "body": _rom_body(arr)})
        return name

    def add_trace(tensor, p, kind):
        c, h, w = T[tensor].shape
        trace_table.append({"name": tensor, "kind": kind, "c": c, "h": h, "w": w})
        return {"index": len(trace_table) - 1, "ptr": p, "count": c * h * w}

    mul_bits = max([int(s.layers[1].attrs["mul_bits"]) for s in steps if s.kind == "conv_bn_relu"] or [8])
    bias_bits = max([int(s.layers[1].attrs["bias_bits"]) for s in steps if s.kind == "conv_bn_relu"] or [32])
    weight_bits = max(int(lay.attrs["weight_bits"]) for lay in ir.layers if "weight_bits" in lay.attrs)
    acc_trace = 0
    for i, s in enumerate(steps):
        lay = s.layers[0]
        if s.kind == "conv_bn_relu":
            bn = s.layers[1]
            w = rom(f"w{i}", ir.param(lay, "weight"), "wrom_t", f"{lay.name} weights {list(ir.param(lay, 'weight').shape)}")
            m = rom(f"m{i}", ir.param(bn, "mul"), "mulrom_t", f"{bn.name} multipliers")
            b = rom(f"b{i}", ir.param(bn, "bias"), "biasrom_t", f"{bn.name} biases")
            sh = rom(f"s{i}", ir.param(bn, "shift"), "shiftrom_t", f"{bn.name} shifts")
            x0 = ptr(s.inputs[0])
            x1 = ptr(s.inputs[1]) if len(s.inputs) > 1 else "(const act_t*)0"
            s.call = f"conv_bn_relu<{s.cfg}>({x0}, {x1}, {ptr(s.output)}, {w}, {m}, {b}, {sh}, ACC_TRACE)"
            s.traces = [add_trace(lay.output, "acc_trace_buf", "acc"), add_trace(s.output, ptr(s.output), "act")]
            acc_trace = max(acc_trace, int(np.prod(T[lay.output].shape)))
        elif s.kind == "conv1x1_bias":
            w = rom(f"w{i}", ir.param(lay, "weight"), "wrom_t", f"{lay.name} weights")
            b = rom(f"b{i}", ir.param(lay, "bias"), "biasrom_t", f"{lay.name} biases")
            sh = rom(f"s{i}", ir.param(lay, "shift"), "shiftrom_t", f"{lay.name} shifts")
            s.call = f"conv1x1_bias<{s.cfg}>({ptr(s.inputs[0])}, logits_buf, {w}, {b}, {sh}, (long long*)0)"
            s.traces = [add_trace(s.output, "logits_buf", "logits")]
        elif s.kind == "conv_transpose2x2":
            w = rom(f"w{i}", ir.param(lay, "weight"), "wrom_t", f"{lay.name} weights")
            sh = rom(f"s{i}", ir.param(lay, "shift"), "shiftrom_t", f"{lay.name} shifts")
            s.call = f"conv_transpose2x2<{s.cfg}>({ptr(s.inputs[0])}, {ptr(s.output)}, {w}, {sh})"
            s.traces = [add_trace(s.output, ptr(s.output), "act")]
        elif s.kind == "maxpool2x2":
            s.call = f"maxpool2x2<{s.cfg}>({ptr(s.inputs[0])}, {ptr(s.output)})"
            s.traces = [add_trace(s.output, ptr(s.output), "act")]
        elif s.kind == "argmax":
            s.call = f"argmax<{s.cfg}>(logits_buf, classes_buf)"
            s.traces = [add_trace(s.output, "classes_buf", "classes")]
    if trace_table[-1]["name"] != ir.classes or trace_table[-2]["name"] != ir.logits:
        raise IRError("HLS generator: the network must end with the logits conv followed by argmax")
    in_c, in_h, in_w = T[ir.input].shape
    ctx = {
        "banner": f"Generated by unetaccel from the IR '{ir.name}'. Do not edit.",
        "name": ir.name, "ir_file": ir_file, "layers": len(ir.layers),
        "in_c": in_c, "in_h": in_h, "in_w": in_w, "num_classes": ir.num_classes,
        "pin": pin, "pout": pout, "pipeline_ii": 1, "part": part, "clock_ns": clock_ns, "csim_images": csim_images,
        "weight_bits": weight_bits, "weight_max": (1 << (weight_bits - 1)) - 1, "bn_mul_bits": mul_bits,
        "bias_bits": bias_bits, "steps": steps,
        "slots": [{"size": s.size, "tensors": s.tensors} for s in slots],
        "max_slot": max(s.size for s in slots), "input_slot": where[ir.input],
        "acc_trace_size": max(acc_trace, 1), "roms": roms, "trace_table": trace_table,
        "constants": regmap.constants(), "reg_mode": regmap.by_name("MODE").offset,
        "reg_layer": regmap.by_name("LAYER").offset, "reg_num_layers": regmap.by_name("NUM_LAYERS").offset,
        "err_bad_size": regmap.ERRORS["bad_size"],
    }
    ctx["slots_count"] = len(slots)
    out_dir = Path(out_dir)
    written = []
    for name in TEMPLATES:
        c = dict(ctx)
        if name == "README.md":
            c["slots"] = len(slots)
        written.append(render_to(f"hls_project/{name}.j2", out_dir / name, c))
    manifest = out_dir / "trace.json"
    text = json.dumps({"ir": ir_file, "tensors": [t["name"] for t in trace_table]}, indent=1) + "\n"
    if not manifest.exists() or manifest.read_text() != text:
        manifest.write_text(text)
    written.append(manifest)
    return written


def trace_order(out_dir) -> list[str]:
    """IR tensor names in the order the testbench expects them in ref_<i>.bin."""
    return json.loads((Path(out_dir) / "trace.json").read_text())["tensors"]
