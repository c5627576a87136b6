"""Validation of an IR: every op's inputs, attributes, parameters, shapes, scales and
worst-case widths; the first bad field is named in an IRError."""
from __future__ import annotations

import numpy as np

from .arith import ROUNDING, qrange, signed_bits
from .graph import HW_ACC_BITS, HW_BN_BITS, IR, OPS, IRError, Layer, QType


_REQUIRED = {
    "conv2d": (("weight",), ("kernel", "padding", "stride", "weight_bits", "weight_f", "acc_bits")),
    "batchnorm": (("mul", "bias", "shift"), ("mul_bits", "mul_f", "bias_bits", "prod_bits", "relu", "lo", "hi")),
    "maxpool2d": ((), ("kernel", "stride")),
    "conv_transpose2d": (("weight", "shift"), ("kernel", "stride", "weight_bits", "weight_f", "acc_bits", "lo", "hi")),
    "concat": ((), ()),
    "argmax": ((), ()),
}
_NINPUTS = {"concat": 2}

#: Attribute value kinds: every attribute an op may carry, and what its value must be.
_INT, _BOOL, _INTS = "an integer", "true or false", "a list of integers"
_ATTR_KIND = {"kernel": _INT, "padding": _INT, "stride": _INT, "weight_bits": _INT, "acc_bits": _INT,
              "lo": _INT, "hi": _INT, "mul_bits": _INT, "bias_bits": _INT, "prod_bits": _INT,
              "weight_f": _INTS, "mul_f": _INTS, "relu": _BOOL}
_OPTIONAL_ATTRS = {"conv2d": ("lo", "hi")}  # with params.shift (a requantizing conv) they are required
_ATTR_MIN = {"kernel": 1, "stride": 1, "padding": 0}  # *_bits: 2..64

#: Parameter roles per op and the integer dtypes an array in that role may have (what the
#: builder writes: 5-bit weights in int8, shifts and BatchNorm multipliers in int32, biases in
#: int32, a BatchNorm bias wider than 32 bits in int64). C and Verilog size their ROMs from these.
_PARAM_DTYPES = {
    "conv2d": {"weight": ("int8",), "bias": ("int32",), "shift": ("int32",)},
    "batchnorm": {"mul": ("int32",), "bias": ("int32", "int64"), "shift": ("int32",)},
    "conv_transpose2d": {"weight": ("int8",), "shift": ("int32",)},
    "maxpool2d": {}, "concat": {}, "argmax": {},
}


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_attr_types(lay: Layer, where: str) -> None:
    """Every attribute known to the op and of the right kind (before any arithmetic uses it)."""
    pkeys, akeys = _REQUIRED[lay.op]
    allowed = set(akeys) | set(_OPTIONAL_ATTRS.get(lay.op, ()))
    for k, v in lay.attrs.items():
        if k not in allowed:
            raise IRError(f"{where}: attrs.{k} is not an attribute of {lay.op}"
                          + (f" (it has: {', '.join(sorted(allowed))})" if allowed else " (it has none)"))
        kind = _ATTR_KIND[k]
        ok = (_is_int(v) if kind == _INT else isinstance(v, (bool, np.bool_)) if kind == _BOOL
              else isinstance(v, (list, tuple)) and all(_is_int(x) for x in v))
        if not ok:
            raise IRError(f"{where}: attrs.{k}: expected {kind}, got {type(v).__name__} {v!r}")
        if k.endswith("_bits") and not 2 <= v <= 64:
            raise IRError(f"{where}: attrs.{k} = {v} is outside 2..64")
        if k in _ATTR_MIN and v < _ATTR_MIN[k]:
            raise IRError(f"{where}: attrs.{k} = {v} must be at least {_ATTR_MIN[k]}")
    if lay.op == "conv2d" and "shift" in lay.params:
        for k in ("lo", "hi"):
            if k not in lay.attrs:
                raise IRError(f"{where}: missing attrs.{k} (a requantizing conv2d clamps its output to [lo, hi])")


def _fvec(t: QType, c: int) -> np.ndarray:
    return np.asarray(t.f if t.per_channel else [t.f] * c, dtype=np.int64)


def validate(ir: IR, source: str = "IR") -> None:
    """Check the whole IR; raise IRError naming the first bad field."""
    if ir.rounding != ROUNDING:
        raise IRError(f"{source}: field 'rounding' is {ir.rounding!r}; only {ROUNDING!r} is implemented")
    for name, t in ir.tensors.items():
        if t.type.per_channel and len(t.type.f) != t.shape[0]:
            raise IRError(f"{source}: tensors.{name}.f has {len(t.type.f)} entries for {t.shape[0]} channels")
    if ir.input not in ir.tensors:
        raise IRError(f"{source}: input tensor '{ir.input}' is not in 'tensors'")
    it = ir.input_tensor.type
    if it.bits != 8 or it.signed:
        raise IRError(f"{source}: input tensor '{ir.input}' must be uint8 (bits 8, unsigned), got {it}")
    defined = {ir.input}
    names = set()
    for lay in ir.layers:
        where = f"{source}: layer '{lay.name}'"
        if lay.name in names:
            raise IRError(f"{where}: duplicate layer name")
        names.add(lay.name)
        if lay.op not in OPS:
            raise IRError(f"{where}: op {lay.op!r} is not supported (supported: {', '.join(OPS)})")
        pkeys, akeys = _REQUIRED[lay.op]
        for k in pkeys:
            if k not in lay.params:
                raise IRError(f"{where}: missing params.{k}")
        roles = _PARAM_DTYPES[lay.op]
        for role, key in lay.params.items():
            if role not in roles:
                raise IRError(f"{where}: params.{role} is not a parameter of {lay.op}"
                              + (f" (it has: {', '.join(roles)})" if roles else " (it has none)"))
            if key not in ir.arrays:
                raise IRError(f"{where}: params.{role} refers to array '{key}', which is missing from the .npz")
            a = ir.arrays[key]
            if str(a.dtype) not in roles[role]:
                raise IRError(f"{where}: array '{key}' (params.{role}) has dtype {a.dtype}, "
                              f"expected {' or '.join(roles[role])}")
        for k in akeys:
            if k not in lay.attrs:
                raise IRError(f"{where}: missing attrs.{k}")
        _check_attr_types(lay, where)
        n_in = _NINPUTS.get(lay.op, 1)
        if len(lay.inputs) != n_in:
            raise IRError(f"{where}: inputs has {len(lay.inputs)} entries, {lay.op} takes {n_in}")
        for x in lay.inputs:
            if x not in ir.tensors:
                raise IRError(f"{where}: input '{x}' is not in 'tensors'")
            if x not in defined:
                raise IRError(f"{where}: input '{x}' is used before the layer that produces it")
        if lay.output not in ir.tensors:
            raise IRError(f"{where}: output '{lay.output}' is not in 'tensors'")
        if lay.output in defined:
            raise IRError(f"{where}: output '{lay.output}' is produced twice")
        _check_layer(ir, lay, where)
        defined.add(lay.output)
    for role, t in (("logits", ir.logits), ("classes", ir.classes)):
        if t not in defined:
            raise IRError(f"{source}: outputs.{role} '{t}' is not produced by any layer")
    lt = ir.tensors[ir.logits]
    if not lt.type.signed or lt.type.bits > 16:
        raise IRError(f"{source}: outputs.logits '{ir.logits}' must be a signed code of at most 16 bits")
    last = ir.producer(ir.classes)
    if last is None or last.op != "argmax" or last.inputs[0] != ir.logits:
        raise IRError(f"{source}: outputs.classes must be the argmax of outputs.logits")


def _check_layer(ir: IR, lay: Layer, where: str) -> None:
    T = ir.tensors
    x = T[lay.inputs[0]]
    y = T[lay.output]
    a = lay.attrs
    cin, h, w = x.shape

    def expect_shape(shape):
        if tuple(y.shape) != tuple(shape):
            raise IRError(f"{where}: output '{y.name}' has shape {list(y.shape)}, expected {list(shape)}")

    def check_requant(c_out, f_pre):
        shift = ir.param(lay, "shift")
        if shift.shape != (c_out,):
            raise IRError(f"{where}: params.shift has shape {list(shift.shape)}, expected [{c_out}]")
        lo, hi = int(a["lo"]), int(a["hi"])
        if not (y.type.lo <= lo <= hi <= y.type.hi):
            raise IRError(f"{where}: attrs lo/hi = {lo}/{hi} do not fit the output type "
                          f"{y.type.bits}-bit {'signed' if y.type.signed else 'unsigned'}")
        if y.type.per_channel:
            raise IRError(f"{where}: a requantized output '{y.name}' must have one f, not one per channel")
        want = f_pre - y.type.f
        if not np.array_equal(shift.astype(np.int64), want):
            c = int(np.flatnonzero(shift != want)[0])
            raise IRError(f"{where}: params.shift[{c}] = {int(shift[c])} but the scales say "
                          f"f_pre - f_out = {int(want[c])}")
        if np.any(np.abs(shift) > 40):
            raise IRError(f"{where}: params.shift has a shift beyond +-40")

    def check_weight(wshape, cout):
        wt = ir.param(lay, "weight")
        if wt.shape != tuple(wshape):
            raise IRError(f"{where}: params.weight has shape {list(wt.shape)}, expected {list(wshape)}")
        lo, hi = qrange(int(a["weight_bits"]), True, narrow=True)
        if wt.size and (wt.min() < lo or wt.max() > hi):
            raise IRError(f"{where}: params.weight has values in [{wt.min()}, {wt.max()}], "
                          f"outside the {a['weight_bits']}-bit narrow range [{lo}, {hi}]")
        wf = a["weight_f"]
        if not isinstance(wf, (list, tuple)) or len(wf) != cout:
            raise IRError(f"{where}: attrs.weight_f must list one f per output channel ({cout})")
        return wt, np.asarray(wf, dtype=np.int64)

    def check_acc(acc_bits_needed):
        ab = int(a["acc_bits"])
        if ab < acc_bits_needed:
            raise IRError(f"{where}: attrs.acc_bits = {ab} is below the worst case {acc_bits_needed}")
        if acc_bits_needed > HW_ACC_BITS:
            raise IRError(f"{where}: the worst-case accumulator needs {acc_bits_needed} bits, "
                          f"the hardware accumulator has {HW_ACC_BITS}")

    if lay.op in ("conv2d", "conv_transpose2d", "maxpool2d", "batchnorm") and (x.type.per_channel != (lay.op == "batchnorm")):
        raise IRError(f"{where}: input '{x.name}' has the wrong kind of scale for {lay.op}")
    if lay.op in ("conv2d", "conv_transpose2d", "maxpool2d", "concat") and x.type.bits > 16:
        raise IRError(f"{where}: input '{x.name}' is {x.type.bits}-bit; {lay.op} takes activation codes")

    if lay.op == "conv2d":
        k, p, s = int(a["kernel"]), int(a["padding"]), int(a["stride"])
        if s != 1 or k < 1 or p < 0 or 2 * p != k - 1:
            raise IRError(f"{where}: kernel {k}, padding {p}, stride {s}: only stride 1 'same' convolutions are supported")
        cout = y.shape[0]
        wt, wf = check_weight((cout, cin, k, k), cout)
        expect_shape((cout, h, w))
        xmax = max(abs(x.type.lo), abs(x.type.hi))
        worst = int(cin * k * k * ((1 << (int(a["weight_bits"]) - 1)) - 1) * xmax)
        f_acc = x.type.f + wf
        if "bias" in lay.params:
            b = ir.param(lay, "bias")
            if b.shape != (cout,):
                raise IRError(f"{where}: params.bias has shape {list(b.shape)}, expected [{cout}]")
            worst += int(np.abs(b.astype(np.int64)).max(initial=0))
        check_acc(signed_bits(worst))
        if lay.requantizes:
            check_requant(cout, f_acc)
        else:
            if y.type.bits != int(a["acc_bits"]) or not y.type.signed:
                raise IRError(f"{where}: accumulator output '{y.name}' must be signed {a['acc_bits']}-bit")
            if not np.array_equal(_fvec(y.type, cout), f_acc):
                raise IRError(f"{where}: output '{y.name}'.f must be input f + weight_f per channel")
    elif lay.op == "conv_transpose2d":
        k, s = int(a["kernel"]), int(a["stride"])
        if k != 2 or s != 2:
            raise IRError(f"{where}: transposed conv kernel {k} stride {s}: only kernel 2, stride 2 is supported")
        cout = y.shape[0]
        wt, wf = check_weight((cin, cout, 2, 2), cout)
        expect_shape((cout, 2 * h, 2 * w))
        xmax = max(abs(x.type.lo), abs(x.type.hi))
        check_acc(signed_bits(cin * ((1 << (int(a["weight_bits"]) - 1)) - 1) * xmax))
        check_requant(cout, x.type.f + wf)
    elif lay.op == "batchnorm":
        c = x.shape[0]
        expect_shape(x.shape)
        m, b = ir.param(lay, "mul"), ir.param(lay, "bias")
        for role, arr in (("mul", m), ("bias", b)):
            if arr.shape != (c,):
                raise IRError(f"{where}: params.{role} has shape {list(arr.shape)}, expected [{c}]")
        mlo, mhi = qrange(int(a["mul_bits"]), True)
        if m.min() < mlo or m.max() > mhi:
            raise IRError(f"{where}: params.mul outside its {a['mul_bits']}-bit range")
        blo, bhi = qrange(int(a["bias_bits"]), True)
        if b.min() < blo or b.max() > bhi:
            raise IRError(f"{where}: params.bias outside its {a['bias_bits']}-bit range")
        prod = signed_bits(int((1 << (x.type.bits - 1)) * np.abs(m.astype(np.int64)).max(initial=0)
                               + np.abs(b.astype(np.int64)).max(initial=0)))
        if int(a["prod_bits"]) < prod:
            raise IRError(f"{where}: attrs.prod_bits = {a['prod_bits']} is below the worst case {prod}")
        if prod > HW_BN_BITS:
            raise IRError(f"{where}: acc * mul + bias needs {prod} bits, the hardware has {HW_BN_BITS}")
        mf = a["mul_f"]
        if not isinstance(mf, (list, tuple)) or len(mf) != c:
            raise IRError(f"{where}: attrs.mul_f must list one f per channel ({c})")
        if bool(a["relu"]) != (int(a["lo"]) >= 0):
            raise IRError(f"{where}: attrs.relu disagrees with attrs.lo")
        check_requant(c, _fvec(x.type, c) + np.asarray(mf, dtype=np.int64))
    elif lay.op == "maxpool2d":
        if int(a["kernel"]) != 2 or int(a["stride"]) != 2:
            raise IRError(f"{where}: only 2x2 max pooling with stride 2 is supported")
        if h % 2 or w % 2:
            raise IRError(f"{where}: input '{x.name}' is {h}x{w}; 2x2 pooling needs even sizes")
        expect_shape((cin, h // 2, w // 2))
        if y.type != x.type:
            raise IRError(f"{where}: max pooling must keep the input's type")
    elif lay.op == "concat":
        b = T[lay.inputs[1]]
        if x.type != b.type:
            raise IRError(f"{where}: concat inputs '{x.name}' {x.type} and '{b.name}' {b.type} must share one type")
        if x.shape[1:] != b.shape[1:]:
            raise IRError(f"{where}: concat inputs have sizes {x.shape[1:]} and {b.shape[1:]}")
        expect_shape((x.shape[0] + b.shape[0], h, w))
        if y.type != x.type:
            raise IRError(f"{where}: concat output must keep its inputs' type")
    elif lay.op == "argmax":
        expect_shape((1, h, w))
        if y.type.signed or (1 << y.type.bits) < cin:
            raise IRError(f"{where}: class map type {y.type} cannot hold {cin} classes")


