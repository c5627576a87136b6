"""IR -> synthesizable Verilog of the accelerator (BUILD/rtl).

Fixed modules rendered from Jinja2 templates (constants from the register-map
description), plus what is network-specific: sizes, the layer table and the
.mem initialisation files of the weights, BatchNorm parameters and shifts.
The activation memory is laid out from tensor lifetimes (the same allocation as
the HLS project): ping-pong plus skip storage; a concat is two source bases.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..ir.model import IR, IRError
from . import regmap
from .hls_project import allocate, plan
from .render import render_to

TEMPLATES = ("unet_core.v", "unet_accel.v", "tb_unet.v")
OPCODE = {"conv_bn_relu": regmap.OPCODES["conv_bn"], "maxpool2x2": regmap.OPCODES["maxpool"],
          "conv_transpose2x2": regmap.OPCODES["conv_transpose"], "conv1x1_bias": regmap.OPCODES["conv_bias"],
          "argmax": regmap.OPCODES["argmax"]}
# registers the engine does not decode yet (single-layer fields, the weight-load data port)
UNUSED_REGS = {"UNET_REG_OPCODE", "UNET_REG_SRC_BASE", "UNET_REG_SKIP_BASE", "UNET_REG_DST_BASE", "UNET_REG_WGT_BASE",
               "UNET_REG_BN_BASE", "UNET_REG_QUANT", "UNET_REG_WLOAD_DATA"}
FIELDS = ("op", "cin0", "cin1", "cout", "h", "w", "k", "pad", "src0", "src1", "dst", "wbase", "pbase", "lo", "hi",
          "reserved")


def layout(ir: IR):
    """(steps, base address of every materialised tensor, activation depth)."""
    steps = plan(ir)
    slots, where = allocate(ir, steps)
    offs = np.concatenate([[0], np.cumsum([s.size for s in slots])]).astype(int)
    base = {t: int(offs[k]) for t, k in where.items()}
    end = int(offs[-1])
    base[ir.logits] = end
    end += int(np.prod(ir.tensors[ir.logits].shape))
    base[ir.classes] = end
    end += int(np.prod(ir.tensors[ir.classes].shape))
    return steps, base, end


def _mem(values, width_hex: int) -> str:
    mask = (1 << (4 * width_hex)) - 1
    return "".join(f"{int(v) & mask:0{width_hex}x}\n" for v in np.asarray(values).ravel().tolist())


def tables(ir: IR):
    """The layer table rows and the concatenated parameter memories."""
    steps, base, depth = layout(ir)
    T = ir.tensors
    rows, weights, mul, bias, shift = [], [], [], [], []
    wbase = pbase = 0
    for s in steps:
        lay = s.layers[0]
        row = dict.fromkeys(FIELDS, 0)
        row["op"] = OPCODE[s.kind]
        row["src0"] = base[s.inputs[0]]
        row["src1"] = base[s.inputs[1]] if len(s.inputs) > 1 else 0
        row["dst"] = base[s.output]
        row["wbase"], row["pbase"] = wbase, pbase
        if s.kind == "conv_bn_relu":
            bn = s.layers[1]
            c = dict(s.consts)
            row.update(cin0=c["CIN0"], cin1=c["CIN1"], cout=c["COUT"], h=c["H"], w=c["W"], k=c["K"], pad=c["PAD"],
                       lo=c["LO"], hi=c["HI"])
            w = ir.param(lay, "weight")
            p_mul, p_bias, p_shift = ir.param(bn, "mul"), ir.param(bn, "bias"), ir.param(bn, "shift")
        elif s.kind == "conv1x1_bias":
            c = dict(s.consts)
            row.update(cin0=c["CIN"], cout=c["COUT"], h=c["H"], w=c["W"], k=1, pad=0, lo=c["LO"], hi=c["HI"])
            w = ir.param(lay, "weight")
            p_bias, p_shift = ir.param(lay, "bias"), ir.param(lay, "shift")
            p_mul = np.ones_like(p_bias)
        elif s.kind == "conv_transpose2x2":
            c = dict(s.consts)
            row.update(cin0=c["CIN"], cout=c["COUT"], h=c["H"], w=c["W"], k=2, lo=c["LO"], hi=c["HI"])
            w = ir.param(lay, "weight")
            p_shift = ir.param(lay, "shift")
            p_mul = p_bias = np.zeros_like(p_shift)
        elif s.kind == "maxpool2x2":
            c = dict(s.consts)
            row.update(cin0=c["C"], cout=c["C"], h=c["H"], w=c["W"], k=2)
            w, p_mul, p_bias, p_shift = (np.zeros(0, np.int64),) * 4
        elif s.kind == "argmax":
            c = dict(s.consts)
            row.update(cin0=c["K"], cout=1, h=c["H"], w=c["W"])
            w, p_mul, p_bias, p_shift = (np.zeros(0, np.int64),) * 4
        else:  # pragma: no cover - plan() only makes the kinds above
            raise IRError(f"layer '{s.name}': {s.kind} has no RTL op")
        if np.size(w) and np.abs(np.asarray(w)).max() > 127:
            raise IRError(f"layer '{lay.name}': weights beyond 8 bits do not fit the weight memory")
        weights.append(np.asarray(w).ravel())
        mul.append(np.asarray(p_mul).ravel())
        bias.append(np.asarray(p_bias).ravel())
        shift.append(np.asarray(p_shift).ravel())
        wbase += int(np.size(w))
        pbase += int(np.size(p_shift))
        rows.append(row)
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731
    return steps, base, depth, rows, cat(weights), cat(mul), cat(bias), cat(shift)


def generate_rtl(ir: IR, out_dir, lanes=(8, 8), ir_file: str = "model.json") -> list[Path]:
    """Write BUILD/rtl: Verilog sources, .mem files and layout.json; returns the written files."""
    steps, base, depth, rows, weights, mul, bias, shift = tables(ir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    in_c, in_h, in_w = ir.tensors[ir.input].shape
    ctx = {
        "banner": f"Generated by unetaccel from the IR '{ir.name}' ({ir_file}). Do not edit.",
        "act_depth": depth, "w_depth": max(1, len(weights)), "p_depth": max(1, len(shift)),
        "num_layers": len(steps), "in_c": in_c, "in_h": in_h, "in_w": in_w, "num_classes": ir.num_classes,
        "in_base": base[ir.input], "logit_base": base[ir.logits], "class_base": base[ir.classes],
        "op_conv_bn": OPCODE["conv_bn_relu"], "op_pool": OPCODE["maxpool2x2"], "op_convt": OPCODE["conv_transpose2x2"],
        "op_conv_bias": OPCODE["conv1x1_bias"], "op_argmax": OPCODE["argmax"],
        "err_bad_size": regmap.ERRORS["bad_size"],
        "constants": [c for c in regmap.constants() if c[0].startswith("UNET_REG_") and c[0] not in UNUSED_REGS
                      or c[0] in ("UNET_ID_VALUE", "UNET_VERSION_VALUE", "UNET_ERR_BAD_OPCODE")],
        "build_config": (lanes[0] << 8) | lanes[1],
    }
    written = [render_to(f"rtl_project/{name}.j2", out_dir / name, ctx) for name in TEMPLATES]
    mems = {
        "weights.mem": _mem(weights if len(weights) else [0], 2),
        "bn_mul.mem": _mem(mul if len(mul) else [0], 8),
        "bn_bias.mem": _mem(bias if len(bias) else [0], 8),
        "shift.mem": _mem(shift if len(shift) else [0], 2),
        "layers.mem": _mem([r[f] for r in rows for f in FIELDS], 8),
        "layout.json": json.dumps({"ir": ir_file, "steps": [s.name for s in steps], "act_depth": depth,
                                   "bases": base, "layers": rows}, indent=1) + "\n",
    }
    for name, text in mems.items():
        p = out_dir / name
        if not p.exists() or p.read_text() != text:
            p.write_text(text)
        written.append(p)
    return written
