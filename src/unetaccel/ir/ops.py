"""The op registry: every IR op declared once.

Each :class:`OpSpec` says what a layer of that op is: how many inputs it reads, its attributes
(and the kind and range of each value), its parameter roles (and the dtypes an array in that role
may have), the checks of its shapes, scales and worst-case widths, and its cost (MACs, ideal
cycles at PIN x POUT lanes). The validator (:mod:`unetaccel.ir.validation`), the builder
(:mod:`unetaccel.ir.builder`), :func:`unetaccel.ir.summary.summary`, the benchmarks and the
generators' dispatch read it; the worst-case widths are the functions below, used by both the
builder (which records them) and the checks (which verify them).

Adding an op: declare it here (attributes, parameters, check, cost), give it a computation in
:mod:`unetaccel.ir.reference`, and a kernel in each generator (codegen.layout maps it to a step
kind; the HLS and RTL templates implement the step).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import numpy as np

from .arith import qrange, signed_bits
from .graph import HW_ACC_BITS, HW_BN_BITS, IR, IRError, Layer, QType

INT, BOOL, INTS = "an integer", "true or false", "a list of integers"
MAX_SHIFT = 40  # |requantize shift| the IR allows; the hardware's shift fields hold it


@dataclass(frozen=True)
class Attr:
    """An attribute: its value kind (INT, BOOL or INTS), the smallest value allowed, and whether
    every layer of the op must carry it (`when` names the condition of a conditional one)."""
    kind: str
    min: int | None = None
    required: bool = True
    when: str = ""


@dataclass(frozen=True)
class Param:
    """A parameter role: the integer dtypes its array may have (what the builder writes)."""
    dtypes: tuple[str, ...]
    required: bool = True


def _none(ir: IR, lay: Layer) -> int:
    return 0


def _no_cycles(ir: IR, lay: Layer, pin: int, pout: int) -> int:
    return 0


@dataclass(frozen=True)
class OpSpec:
    name: str
    doc: str
    inputs: int
    attrs: Mapping[str, Attr]
    params: Mapping[str, Param]
    check: Callable[[IR, Layer, str], None]
    #: the input's scale: one f ("tensor", activation codes) or one per channel ("channel", an accumulator)
    input_scale: str = "tensor"
    macs: Callable[[IR, Layer], int] = _none
    ideal_cycles: Callable[[IR, Layer, int, int], int] = _no_cycles
    #: the widest intermediate, by attribute name (acc_bits, prod_bits), for summaries
    width_attr: str = ""


# ---------------------------------------------------------------------------
# worst-case widths (the builder records them, the checks verify them)


def act_max(t: QType) -> int:
    """The largest |code| of a tensor type."""
    return max(abs(t.lo), abs(t.hi))


def weight_max(weight_bits: int) -> int:
    """The largest |weight| of a narrow-range signed weight of weight_bits."""
    return (1 << (int(weight_bits) - 1)) - 1


def conv_acc_bits(x: QType, cin: int, k: int, weight_bits: int, bias=None) -> int:
    """Worst-case accumulator of a conv: Cin x K x K products of |w| <= 2^(b-1)-1 and |x| (+ |bias|)."""
    worst = int(cin) * int(k) * int(k) * weight_max(weight_bits) * act_max(x)
    if bias is not None:
        worst += int(np.abs(np.asarray(bias, dtype=np.int64)).max(initial=0))
    return signed_bits(worst)


def convt_acc_bits(x: QType, cin: int, weight_bits: int) -> int:
    """Worst-case accumulator of a k2 s2 transposed conv: each output is a 1x1 product over Cin."""
    return conv_acc_bits(x, cin, 1, weight_bits)


def bn_prod_bits(acc: QType, mul, bias) -> int:
    """Worst-case acc * mul + bias of a BatchNorm on an acc.bits-wide accumulator."""
    m = int(np.abs(np.asarray(mul, dtype=np.int64)).max(initial=0))
    b = int(np.abs(np.asarray(bias, dtype=np.int64)).max(initial=0))
    return signed_bits((1 << (acc.bits - 1)) * m + b)


def add_acc_bits(a: QType, b: QType) -> int:
    """Worst-case a + b of two codes."""
    return signed_bits(act_max(a) + act_max(b))


# ---------------------------------------------------------------------------
# shared checks


def _fvec(t: QType, c: int) -> np.ndarray:
    return np.asarray(t.f if t.per_channel else [t.f] * c, dtype=np.int64)


def _expect_shape(y, shape, where):
    if tuple(y.shape) != tuple(shape):
        raise IRError(f"{where}: output '{y.name}' has shape {list(y.shape)}, expected {list(shape)}")


def _check_requant(ir: IR, lay: Layer, where: str, c_out: int, f_pre) -> None:
    """params.shift (one per output channel) = f_pre - f_out, |shift| <= MAX_SHIFT; lo/hi fit the output."""
    y = ir.tensors[lay.output]
    a = lay.attrs
    shift = ir.param(lay, "shift")
    if shift.shape != (c_out,):
        raise IRError(f"{where}: params.shift has shape {list(shift.shape)}, expected [{c_out}]")
    lo, hi = int(a["lo"]), int(a["hi"])
    if not (y.type.lo <= lo <= hi <= y.type.hi):
        raise IRError(f"{where}: attrs lo/hi = {lo}/{hi} do not fit the output type "
                      f"{y.type.bits}-bit {'signed' if y.type.signed else 'unsigned'}")
    if y.type.per_channel:
        raise IRError(f"{where}: a requantized output '{y.name}' must have one f, not one per channel")
    want = np.broadcast_to(np.asarray(f_pre, dtype=np.int64), (c_out,)) - y.type.tensor_f
    if not np.array_equal(shift.astype(np.int64), want):
        c = int(np.flatnonzero(shift != want)[0])
        raise IRError(f"{where}: params.shift[{c}] = {int(shift[c])} but the scales say "
                      f"f_pre - f_out = {int(want[c])}")
    if np.any(np.abs(shift) > MAX_SHIFT):
        raise IRError(f"{where}: params.shift has a shift beyond +-{MAX_SHIFT}")


def _check_weight(ir: IR, lay: Layer, where: str, wshape, cout: int):
    a = lay.attrs
    wt = ir.param(lay, "weight")
    if wt.shape != tuple(wshape):
        raise IRError(f"{where}: params.weight has shape {list(wt.shape)}, expected {list(wshape)}")
    lo, hi = qrange(int(a["weight_bits"]), True, narrow=True)
    if wt.size and (wt.min() < lo or wt.max() > hi):
        raise IRError(f"{where}: params.weight has values in [{wt.min()}, {wt.max()}], "
                      f"outside the {a['weight_bits']}-bit narrow range [{lo}, {hi}]")
    wf = a["weight_f"]
    if len(wf) != cout:
        raise IRError(f"{where}: attrs.weight_f must list one f per output channel ({cout})")
    return wt, np.asarray(wf, dtype=np.int64)


def _check_acc(lay: Layer, where: str, needed: int) -> None:
    ab = int(lay.attrs["acc_bits"])
    if ab < needed:
        raise IRError(f"{where}: attrs.acc_bits = {ab} is below the worst case {needed}")
    if needed > HW_ACC_BITS:
        raise IRError(f"{where}: the worst-case accumulator needs {needed} bits, "
                      f"the hardware accumulator has {HW_ACC_BITS}")


# ---------------------------------------------------------------------------
# the ops


def _conv2d_check(ir: IR, lay: Layer, where: str) -> None:
    x, y, a = ir.tensors[lay.inputs[0]], ir.tensors[lay.output], lay.attrs
    cin, h, w = x.shape
    k, p, s = int(a["kernel"]), int(a["padding"]), int(a["stride"])
    if s != 1 or 2 * p != k - 1:
        raise IRError(f"{where}: kernel {k}, padding {p}, stride {s}: only stride 1 'same' convolutions are supported")
    if lay.requantizes:
        for key in ("lo", "hi"):
            if key not in a:
                raise IRError(f"{where}: missing attrs.{key} (a requantizing conv2d clamps its output to [lo, hi])")
    cout = y.shape[0]
    _, wf = _check_weight(ir, lay, where, (cout, cin, k, k), cout)
    _expect_shape(y, (cout, h, w), where)
    bias = None
    if "bias" in lay.params:
        bias = ir.param(lay, "bias")
        if bias.shape != (cout,):
            raise IRError(f"{where}: params.bias has shape {list(bias.shape)}, expected [{cout}]")
    _check_acc(lay, where, conv_acc_bits(x.type, cin, k, int(a["weight_bits"]), bias))
    f_acc = x.type.tensor_f + wf
    if lay.requantizes:
        _check_requant(ir, lay, where, cout, f_acc)
    else:
        if y.type.bits != int(a["acc_bits"]) or not y.type.signed:
            raise IRError(f"{where}: accumulator output '{y.name}' must be signed {a['acc_bits']}-bit")
        if not np.array_equal(_fvec(y.type, cout), f_acc):
            raise IRError(f"{where}: output '{y.name}'.f must be input f + weight_f per channel")


def _conv2d_macs(ir: IR, lay: Layer) -> int:
    x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
    k = int(lay.attrs["kernel"])
    return y.shape[0] * y.shape[1] * y.shape[2] * x.shape[0] * k * k


def _conv2d_cycles(ir: IR, lay: Layer, pin: int, pout: int) -> int:
    x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
    k = int(lay.attrs["kernel"])
    return y.shape[1] * y.shape[2] * math.ceil(y.shape[0] / pout) * k * k * math.ceil(x.shape[0] / pin)


def _convt_check(ir: IR, lay: Layer, where: str) -> None:
    x, y, a = ir.tensors[lay.inputs[0]], ir.tensors[lay.output], lay.attrs
    cin, h, w = x.shape
    k, s = int(a["kernel"]), int(a["stride"])
    if k != 2 or s != 2:
        raise IRError(f"{where}: transposed conv kernel {k} stride {s}: only kernel 2, stride 2 is supported")
    cout = y.shape[0]
    _, wf = _check_weight(ir, lay, where, (cin, cout, 2, 2), cout)
    _expect_shape(y, (cout, 2 * h, 2 * w), where)
    _check_acc(lay, where, convt_acc_bits(x.type, cin, int(a["weight_bits"])))
    _check_requant(ir, lay, where, cout, x.type.tensor_f + wf)


def _convt_macs(ir: IR, lay: Layer) -> int:
    x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
    return x.shape[1] * x.shape[2] * x.shape[0] * y.shape[0] * 4


def _convt_cycles(ir: IR, lay: Layer, pin: int, pout: int) -> int:
    x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
    return x.shape[1] * x.shape[2] * 4 * math.ceil(y.shape[0] / pout) * math.ceil(x.shape[0] / pin)


def _bn_check(ir: IR, lay: Layer, where: str) -> None:
    x, a = ir.tensors[lay.inputs[0]], lay.attrs
    c = x.shape[0]
    _expect_shape(ir.tensors[lay.output], x.shape, where)
    m, b = ir.param(lay, "mul"), ir.param(lay, "bias")
    for role, arr in (("mul", m), ("bias", b)):
        if arr.shape != (c,):
            raise IRError(f"{where}: params.{role} has shape {list(arr.shape)}, expected [{c}]")
    for role, arr, bits in (("mul", m, a["mul_bits"]), ("bias", b, a["bias_bits"])):
        lo, hi = qrange(int(bits), True)
        if arr.min() < lo or arr.max() > hi:
            raise IRError(f"{where}: params.{role} outside its {bits}-bit range")
    prod = bn_prod_bits(x.type, m, b)
    if int(a["prod_bits"]) < prod:
        raise IRError(f"{where}: attrs.prod_bits = {a['prod_bits']} is below the worst case {prod}")
    if prod > HW_BN_BITS:
        raise IRError(f"{where}: acc * mul + bias needs {prod} bits, the hardware has {HW_BN_BITS}")
    mf = a["mul_f"]
    if len(mf) != c:
        raise IRError(f"{where}: attrs.mul_f must list one f per channel ({c})")
    if bool(a["relu"]) != (int(a["lo"]) >= 0):
        raise IRError(f"{where}: attrs.relu disagrees with attrs.lo")
    _check_requant(ir, lay, where, c, _fvec(x.type, c) + np.asarray(mf, dtype=np.int64))


def _pool_check(ir: IR, lay: Layer, where: str) -> None:
    x, y, a = ir.tensors[lay.inputs[0]], ir.tensors[lay.output], lay.attrs
    cin, h, w = x.shape
    if int(a["kernel"]) != 2 or int(a["stride"]) != 2:
        raise IRError(f"{where}: only 2x2 max pooling with stride 2 is supported")
    if h % 2 or w % 2:
        raise IRError(f"{where}: input '{x.name}' is {h}x{w}; 2x2 pooling needs even sizes")
    _expect_shape(y, (cin, h // 2, w // 2), where)
    if y.type != x.type:
        raise IRError(f"{where}: max pooling must keep the input's type")


def _same_type_inputs(ir: IR, lay: Layer, where: str, what: str):
    x, b = ir.tensors[lay.inputs[0]], ir.tensors[lay.inputs[1]]
    if x.type != b.type:
        raise IRError(f"{where}: {what} inputs '{x.name}' {x.type} and '{b.name}' {b.type} must share one type")
    if x.shape[1:] != b.shape[1:]:
        raise IRError(f"{where}: {what} inputs have sizes {x.shape[1:]} and {b.shape[1:]}")
    return x, b


def _concat_check(ir: IR, lay: Layer, where: str) -> None:
    x, b = _same_type_inputs(ir, lay, where, "concat")
    y = ir.tensors[lay.output]
    _expect_shape(y, (x.shape[0] + b.shape[0], *x.shape[1:]), where)
    if y.type != x.type:
        raise IRError(f"{where}: concat output must keep its inputs' type")


def _add_check(ir: IR, lay: Layer, where: str) -> None:
    x, b = _same_type_inputs(ir, lay, where, "add")
    if x.shape != b.shape:
        raise IRError(f"{where}: add inputs have shapes {list(x.shape)} and {list(b.shape)}")
    _expect_shape(ir.tensors[lay.output], x.shape, where)
    _check_acc(lay, where, add_acc_bits(x.type, b.type))
    _check_requant(ir, lay, where, x.shape[0], x.type.tensor_f)


def _argmax_check(ir: IR, lay: Layer, where: str) -> None:
    x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
    _expect_shape(y, (1, *x.shape[1:]), where)
    if y.type.signed or (1 << y.type.bits) < x.shape[0]:
        raise IRError(f"{where}: class map type {y.type} cannot hold {x.shape[0]} classes")


_WEIGHTED = {"weight_bits": Attr(INT, 2), "weight_f": Attr(INTS), "acc_bits": Attr(INT, 2)}
_RANGE = {"lo": Attr(INT), "hi": Attr(INT)}

OPS_SPEC: Mapping[str, OpSpec] = MappingProxyType({s.name: s for s in (
    OpSpec("conv2d", "stride-1 'same' convolution -> the accumulator, or requantized (with params.shift)",
           1, {"kernel": Attr(INT, 1), "padding": Attr(INT, 0), "stride": Attr(INT, 1), **_WEIGHTED,
               "lo": Attr(INT, required=False, when="params.shift"),
               "hi": Attr(INT, required=False, when="params.shift")},
           {"weight": Param(("int8",)), "bias": Param(("int32",), False), "shift": Param(("int32",), False)},
           _conv2d_check, macs=_conv2d_macs, ideal_cycles=_conv2d_cycles, width_attr="acc_bits"),
    OpSpec("batchnorm", "y = acc * mul[c] + bias[c], requantized (inference statistics)",
           1, {"mul_bits": Attr(INT, 2), "mul_f": Attr(INTS), "bias_bits": Attr(INT, 2),
               "prod_bits": Attr(INT, 2), "relu": Attr(BOOL), **_RANGE},
           {"mul": Param(("int32",)), "bias": Param(("int32", "int64")), "shift": Param(("int32",))},
           _bn_check, input_scale="channel", width_attr="prod_bits"),
    OpSpec("maxpool2d", "2x2 max pooling, stride 2, on codes", 1,
           {"kernel": Attr(INT, 1), "stride": Attr(INT, 1)}, {}, _pool_check),
    OpSpec("conv_transpose2d", "k2 s2 transposed conv (four 1x1 phases), requantized",
           1, {"kernel": Attr(INT, 1), "stride": Attr(INT, 1), **_WEIGHTED, **_RANGE},
           {"weight": Param(("int8",)), "shift": Param(("int32",))},
           _convt_check, macs=_convt_macs, ideal_cycles=_convt_cycles, width_attr="acc_bits"),
    OpSpec("concat", "channel concatenation; both inputs share one type", 2, {}, {}, _concat_check),
    OpSpec("add", "residual add of two codes of one type, requantized: clamp(rhe((a + b) * 2^-shift))",
           2, {"acc_bits": Attr(INT, 2), **_RANGE}, {"shift": Param(("int32",))},
           _add_check, width_attr="acc_bits"),
    OpSpec("argmax", "class map: the first channel holding the largest code", 1, {}, {}, _argmax_check),
)})

OPS = tuple(OPS_SPEC)


def spec(op: str, where: str = "IR") -> OpSpec:
    """The declaration of `op`; an IRError naming it and the supported ops when there is none."""
    try:
        return OPS_SPEC[op]
    except (KeyError, TypeError):
        raise IRError(f"{where}: op {op!r} is not supported (supported: {', '.join(OPS)})") from None


def macs(ir: IR, lay: Layer) -> int:
    """Real multiply-accumulates of one layer for one image."""
    return int(spec(lay.op).macs(ir, lay))


def ideal_cycles(ir: IR, lay: Layer, lanes=(8, 8)) -> int:
    """Cycles of one layer on a PIN x POUT engine that never idles (channel groups rounded up)."""
    return int(spec(lay.op).ideal_cycles(ir, lay, int(lanes[0]), int(lanes[1])))


def total_macs(ir: IR) -> int:
    return sum(macs(ir, lay) for lay in ir.layers)


__all__ = ["Attr", "Param", "OpSpec", "OPS_SPEC", "OPS", "spec", "macs", "ideal_cycles", "total_macs",
           "conv_acc_bits", "convt_acc_bits", "bn_prod_bits", "add_acc_bits", "act_max", "weight_max",
           "INT", "BOOL", "INTS", "MAX_SHIFT"]
