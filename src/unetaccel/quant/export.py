"""Export: Brevitas -> QONNX file -> integer IR.

The IR is built from the cleaned QONNX graph (not from our own modules), so a
Brevitas model that a user wrote compiles when it uses the supported patterns:

    Quant(input, unsigned 8-bit)                      -> the IR input (f = 8)
    Conv(act, Quant(W)) [+ bias Quant(B)]             -> conv2d (accumulator)
    Mul(acc, Reshape(Quant(m))) -> Add(., Reshape(Quant(b))) [-> Relu] -> Quant
                                                      -> batchnorm (+ReLU, requantize)
    ConvTranspose(act, Quant(W)) [-> Relu] -> Quant   -> conv_transpose2d (requantize)
    Conv(...) with bias -> Quant(signed)              -> the head conv2d (requantize)
    MaxPool 2x2 / Concat on activation codes          -> maxpool2d / concat
    graph output (signed codes)                       -> logits, followed by argmax

Anything else raises IRError naming the ONNX node.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..ir.arith import qrange
from ..ir.builder import IRBuilder
from ..ir.graph import IR, IRError


def export_qonnx(qmodel, path, size, in_channels=3) -> Path:
    """Write the QONNX file of a Brevitas model (one file, no external data)."""
    import torch
    from brevitas.export import export_qonnx as _export

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = qmodel.training
    qmodel.eval()
    dtype = next(qmodel.parameters()).dtype
    x = torch.zeros(1, in_channels, *size, dtype=dtype)
    try:
        _export(qmodel.float(), x.float(), export_path=str(path), dynamo=False)
    finally:
        qmodel.to(dtype)
        qmodel.train(was_training)
    return path


def load_clean(path):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    return cleanup_model(ModelWrapper(str(path)))


@dataclass
class _Const:
    ints: np.ndarray | None  # integer codes (for Quant of a constant) or None for plain constants
    value: np.ndarray        # float value
    f: np.ndarray | None = None  # per element of the scale (broadcast), integer exponents
    bits: int = 0
    signed: bool = True
    narrow: bool = False


@dataclass
class _Act:
    tensor: str  # IR tensor name (activation codes)


@dataclass
class _Pending:
    """A wide value on its way to a requantizing Quant node."""
    kind: str             # "acc" (conv), "bn_mul", "bn", "convt"
    source: str           # IR tensor (conv/convt input or the conv's accumulator)
    node: str             # ONNX node that started it
    weight: np.ndarray | None = None
    weight_f: np.ndarray | None = None
    weight_bits: int = 0
    bias: np.ndarray | None = None
    mul: np.ndarray | None = None
    mul_f: np.ndarray | None = None
    mul_bits: int = 0
    relu: bool = False
    acc_tensor: str | None = None


def _pow2_exponent(scale: np.ndarray, where: str) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float64)
    if np.any(s <= 0):
        raise IRError(f"{where}: scale must be positive")
    e = np.log2(s)
    ei = np.rint(e)
    if not np.all(np.abs(e - ei) < 1e-9):
        raise IRError(f"{where}: scale {s.ravel()[:4]} is not a power of two (only power-of-two scales map to the IR)")
    return (-ei).astype(np.int64)  # f = -log2(scale)


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            from onnx import helper
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


def qonnx_to_ir(path_or_model, name: str = "unet", meta: dict | None = None) -> IR:
    """Build the integer IR from a (cleaned) QONNX model; raises IRError naming the node it cannot map."""
    mw = load_clean(path_or_model) if isinstance(path_or_model, (str, Path)) else path_or_model
    g = mw.graph
    if len(g.input) != 1 or len(g.output) != 1:
        raise IRError(f"QONNX graph: expected one input and one output, got {len(g.input)} and {len(g.output)} "
                      "(a forward that returns a QuantTensor exports 6 outputs: return its .value)")
    in_name = g.input[0].name
    in_shape = [d.dim_value for d in g.input[0].type.tensor_type.shape.dim]
    if len(in_shape) != 4:
        raise IRError(f"QONNX input '{in_name}': expected N x C x H x W, got {in_shape}")
    b = IRBuilder(name, in_shape[1:])
    vals: dict[str, object] = {}
    counters: dict[str, int] = {}

    def new_name(prefix):
        counters[prefix] = counters.get(prefix, 0) + 1
        return f"{prefix}{counters[prefix] - 1}"

    def const(t):
        if t in vals and isinstance(vals[t], _Const):
            return vals[t]
        init = mw.get_initializer(t)
        if init is not None:
            return _Const(None, np.asarray(init))
        return None

    def need_act(node, t) -> str:
        v = vals.get(t)
        if not isinstance(v, _Act):
            raise IRError(f"ONNX node '{node.name}' ({node.op_type}): input '{t}' is not a quantized activation "
                          "(only 8-bit activation codes may feed this op)")
        return v.tensor

    def need_weight(node, t, what):
        c = const(t)
        if c is None or c.ints is None:
            raise IRError(f"ONNX node '{node.name}' ({node.op_type}): {what} '{t}' is not a quantized constant")
        return c

    input_seen = False
    for node in g.node:
        op = node.op_type
        where = f"ONNX node '{node.name}' ({op})"
        out = node.output[0]
        if op == "Quant":
            x = node.input[0]
            scale, zp, bw = (const(t) for t in node.input[1:4])
            if scale is None or zp is None or bw is None:
                raise IRError(f"{where}: scale, zero point and bit width must be constants")
            if np.any(zp.value != 0):
                raise IRError(f"{where}: zero point must be 0 (symmetric quantization only)")
            rm = _attr(node, "rounding_mode", "ROUND")
            if rm != "ROUND":
                raise IRError(f"{where}: rounding_mode {rm!r}; only ROUND (half to even) is supported")
            signed, narrow = bool(_attr(node, "signed", 1)), bool(_attr(node, "narrow", 0))
            bits = int(np.asarray(bw.value).item())
            f = _pow2_exponent(scale.value, where)
            cx = const(x)
            if cx is not None:  # a quantized constant: weights, BN multiplier or bias
                # QONNX Quant semantics: clamp(x / scale) then round half to even (np.rint)
                lo, hi = qrange(bits, signed, narrow)
                sc = scale.value.astype(np.float64)
                ints = np.rint(np.clip(cx.value.astype(np.float64) / sc, lo, hi)).astype(np.int64)
                qv = ints * sc
                vals[out] = _Const(ints, qv, np.broadcast_to(f, np.shape(cx.value)).copy(), bits, signed, narrow)
                continue
            if x == in_name:
                if signed or bits != 8 or np.size(f) != 1 or int(f.ravel()[0]) != 8:
                    raise IRError(f"{where}: the network input must be quantized to uint8 at scale 2^-8 "
                                  f"(got {bits}-bit {'signed' if signed else 'unsigned'}, f = {f.ravel()[:1]})")
                vals[out] = _Act(b.input)
                input_seen = True
                continue
            if np.size(f) != 1:
                raise IRError(f"{where}: activation quantizers must be per tensor")
            fo = int(f.ravel()[0])
            p = vals.get(x)
            if not isinstance(p, _Pending):
                raise IRError(f"{where}: requantizes '{x}', which is not the output of a conv, transposed conv "
                              "or batchnorm pattern")
            if bits != 8:
                raise IRError(f"{where}: activations must be 8-bit (got {bits})")
            if p.kind == "bn":
                if signed:  # unsigned codes clamp at 0 with or without a Relu node: ReLU either way
                    raise IRError(f"{where}: batchnorm outputs must be unsigned (ReLU) activations")
                name_ = new_name("bn")
                t = b.batchnorm(name_, p.acc_tensor, p.mul, p.mul_f, p.bias, fo, mul_bits=p.mul_bits, relu=True)
            elif p.kind == "convt":
                if signed:
                    raise IRError(f"{where}: a transposed conv must requantize to unsigned codes (the skip's scale)")
                t = b.conv_transpose(new_name("up"), p.source, p.weight, p.weight_f, fo, p.weight_bits)
            elif p.kind == "acc":
                # the output clamps at 0 when a Relu was recorded, or when the codes are unsigned
                # (an unsigned Quant saturates negative values to 0 with or without a Relu node)
                t = b.conv2d(new_name("head" if signed else "convq"), p.source, p.weight, p.weight_f,
                             p.weight_bits, bias=p.bias, out_f=fo, out_signed=signed, relu=p.relu or not signed)
            else:
                raise IRError(f"{where}: cannot requantize a {p.kind} value (a BatchNorm multiply needs its add)")
            vals[out] = _Act(t)
        elif op == "Conv":
            x = need_act(node, node.input[0])
            w = need_weight(node, node.input[1], "weight")
            ks = _attr(node, "kernel_shape")
            pads, strides = _attr(node, "pads", [0, 0, 0, 0]), _attr(node, "strides", [1, 1])
            if _attr(node, "group", 1) != 1 or list(strides) != [1, 1] or len(set(pads)) != 1 \
                    or ks[0] != ks[1] or 2 * pads[0] != ks[0] - 1 or any(d != 1 for d in _attr(node, "dilations", [1, 1])):
                raise IRError(f"{where}: only stride-1, 'same'-padded, ungrouped square convolutions are supported "
                              f"(kernel {list(ks)}, pads {list(pads)}, strides {list(strides)})")
            wf = w.f.reshape(w.f.shape[0], -1)[:, 0]
            if not w.signed or not w.narrow:
                raise IRError(f"{where}: weights must be signed narrow-range")
            bias = None
            if len(node.input) > 2 and node.input[2]:
                bq = need_weight(node, node.input[2], "bias")
                bias_f = bq.f.ravel()
                if not np.array_equal(bias_f, b.t(x).type.f + wf):
                    raise IRError(f"{where}: the bias scale must equal input scale x weight scale per channel")
                bias = bq.ints
            vals[out] = _Pending("acc", x, node.name, weight=w.ints, weight_f=wf, weight_bits=w.bits, bias=bias)
        elif op == "ConvTranspose":
            x = need_act(node, node.input[0])
            w = need_weight(node, node.input[1], "weight")
            if list(_attr(node, "kernel_shape", w.ints.shape[2:])) != [2, 2] or list(_attr(node, "strides", [1, 1])) != [2, 2] \
                    or any(_attr(node, "pads", [0, 0, 0, 0])) or _attr(node, "group", 1) != 1 \
                    or (len(node.input) > 2 and node.input[2]):
                raise IRError(f"{where}: only kernel 2, stride 2, unpadded transposed convs without bias are supported")
            wf = w.f.transpose(1, 0, 2, 3).reshape(w.f.shape[1], -1)[:, 0]
            vals[out] = _Pending("convt", x, node.name, weight=w.ints, weight_f=wf, weight_bits=w.bits)
        elif op == "Reshape":
            c = const(node.input[0])
            if c is None:
                raise IRError(f"{where}: only reshapes of constants (BatchNorm parameters) are supported")
            vals[out] = c  # per-channel vectors keep their values; broadcasting is by channel
        elif op == "Mul":
            p, c = vals.get(node.input[0]), const(node.input[1])
            if not (isinstance(p, _Pending) and p.kind == "acc" and p.bias is None) or c is None or c.ints is None:
                raise IRError(f"{where}: only conv accumulator x quantized per-channel constant (BatchNorm) is supported")
            if p.relu:
                raise IRError(f"{where}: a ReLU between a conv and its BatchNorm is not supported "
                              "(the IR's ReLU follows the BatchNorm)")
            acc = b.conv2d(new_name("conv"), p.source, p.weight, p.weight_f, p.weight_bits)
            cnum = b.t(acc).shape[0]
            m = c.ints.ravel()
            if m.size != cnum:
                raise IRError(f"{where}: BatchNorm multiplier has {m.size} values for {cnum} channels")
            vals[out] = _Pending("bn_mul", p.source, node.name, mul=m, mul_f=c.f.ravel(), mul_bits=c.bits,
                                 acc_tensor=acc)
        elif op == "Add":
            p, c = vals.get(node.input[0]), const(node.input[1])
            if not (isinstance(p, _Pending) and p.kind == "bn_mul") or c is None or c.ints is None:
                raise IRError(f"{where}: only (conv x multiplier) + quantized per-channel bias (BatchNorm) is supported")
            acc_f = np.asarray(b.t(p.acc_tensor).type.f, dtype=np.int64)
            if not np.array_equal(c.f.ravel(), acc_f + p.mul_f):
                raise IRError(f"{where}: the BatchNorm bias scale must equal accumulator scale x multiplier scale")
            vals[out] = _Pending("bn", p.source, node.name, mul=p.mul, mul_f=p.mul_f, mul_bits=p.mul_bits,
                                 bias=c.ints.ravel(), acc_tensor=p.acc_tensor)
        elif op == "Relu":
            p = vals.get(node.input[0])
            if not isinstance(p, _Pending) or p.kind == "bn_mul":
                raise IRError(f"{where}: ReLU must sit between a conv/batchnorm and its requantizing Quant")
            p.relu = True
            vals[out] = p
        elif op == "MaxPool":
            x = need_act(node, node.input[0])
            if list(_attr(node, "kernel_shape")) != [2, 2] or list(_attr(node, "strides", [1, 1])) != [2, 2] \
                    or any(_attr(node, "pads", [0, 0, 0, 0])):
                raise IRError(f"{where}: only 2x2 max pooling with stride 2 is supported")
            vals[out] = _Act(b.maxpool(new_name("pool"), x))
        elif op == "Concat":
            if _attr(node, "axis") != 1 or len(node.input) != 2:
                raise IRError(f"{where}: only two-input channel concatenation is supported")
            a_, c_ = (need_act(node, t) for t in node.input)
            if b.t(a_).type != b.t(c_).type:
                raise IRError(f"{where}: both concat inputs must share one scale (got {b.t(a_).type} and {b.t(c_).type})")
            vals[out] = _Act(b.concat(new_name("cat"), a_, c_))
        else:
            raise IRError(f"{where}: op {op} is not supported (supported: Quant, Conv, ConvTranspose, Mul/Add "
                          "(BatchNorm), Relu, MaxPool, Concat)")
    if not input_seen:
        raise IRError("QONNX graph: the input is not quantized by a Quant node (uint8, scale 2^-8)")
    res = vals.get(g.output[0].name)
    if not isinstance(res, _Act):
        raise IRError(f"QONNX output '{g.output[0].name}': must be quantized activation codes (the logits)")
    logits = res.tensor
    lt = b.t(logits)
    if not lt.type.signed:
        raise IRError(f"QONNX output '{g.output[0].name}': logits must be signed codes")
    classes = b.argmax("argmax", logits)
    return b.build(logits, classes, meta=meta)
