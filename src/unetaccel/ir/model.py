"""The integer IR: frozen dataclasses, JSON + .npz I/O and validation.

The IR is the contract between quantization and every later rung (C/HLS, RTL,
FSIC). It is a versioned JSON file describing tensors and layers, plus an .npz
holding the integer parameters by key. Loading validates everything and names
the bad field in its error.

Tensors are N x C x H x W integer codes with real = q * 2^-f; ``f`` is one
integer, or one per channel for wide (accumulator) tensors.

Ops (inputs -> output):

``conv2d``            [x] -> acc (wide, signed) or, with a requantize, an 8-bit tensor.
                      params: weight (Cout, Cin, K, K); optional bias (Cout,) at the
                      accumulator's scale; optional shift (Cout,) = requantize.
                      attrs: kernel, padding, stride (1), weight_bits, weight_f (per Cout),
                      acc_bits, and with shift: lo, hi.
``batchnorm``         [acc] -> 8-bit. y = acc * mul[c] + bias[c]; q = clamp(rhe(y, shift[c])).
                      params: mul, bias, shift (C,). attrs: mul_bits, mul_f, bias_bits,
                      prod_bits, relu, lo, hi.
``maxpool2d``         [x] -> x' (same type). attrs: kernel 2, stride 2.
``conv_transpose2d``  [x] -> 8-bit. k2 s2, four phases; params weight (Cin, Cout, 2, 2)
                      (PyTorch layout), shift (Cout,); attrs kernel, stride, weight_bits,
                      weight_f, acc_bits, lo, hi.
``concat``            [a, b] -> channel concatenation; both inputs share one type.
``argmax``            [logits] -> class map (C = 1); ties go to the lowest index.

Parameter dtypes are fixed per role: weights int8; shifts, BatchNorm multipliers and conv
biases int32; a BatchNorm bias int32 (int64 when bias_bits > 32). Attributes are integers,
lists of integers (weight_f, mul_f) or a boolean (relu); loading checks each one's kind.
"""
from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from .arith import ROUNDING, qrange, signed_bits

FORMAT = "unetaccel-ir"
VERSION = 1
OPS = ("conv2d", "batchnorm", "maxpool2d", "conv_transpose2d", "concat", "argmax")

#: Widths of the hardware datapaths (C and Verilog); export fails beyond them.
HW_ACC_BITS = 32
HW_BN_BITS = 48


class IRError(ValueError):
    """A malformed or unsupported IR; the message names the bad field."""


@dataclass(frozen=True)
class QType:
    bits: int
    signed: bool
    f: int | tuple[int, ...]

    @property
    def lo(self) -> int:
        return qrange(self.bits, self.signed)[0]

    @property
    def hi(self) -> int:
        return qrange(self.bits, self.signed)[1]

    @property
    def per_channel(self) -> bool:
        return isinstance(self.f, tuple)

    def to_json(self) -> dict:
        return {"bits": self.bits, "signed": self.signed,
                "f": list(self.f) if self.per_channel else self.f}


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, int, int]  # C, H, W
    type: QType

    @property
    def channels(self) -> int:
        return self.shape[0]

    def to_json(self) -> dict:
        return {"shape": list(self.shape), **self.type.to_json()}


@dataclass(frozen=True)
class Layer:
    name: str
    op: str
    inputs: tuple[str, ...]
    output: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # role -> npz key

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "inputs": list(self.inputs),
                "output": self.output, "attrs": _jsonable(dict(self.attrs)),
                "params": dict(self.params)}

    @property
    def requantizes(self) -> bool:
        return "shift" in self.params


@dataclass(frozen=True)
class IR:
    name: str
    input: str
    tensors: Mapping[str, Tensor]
    layers: tuple[Layer, ...]
    logits: str
    classes: str
    arrays: Mapping[str, np.ndarray]
    meta: Mapping[str, Any] = field(default_factory=dict)
    rounding: str = ROUNDING
    version: int = VERSION

    # -- convenience -------------------------------------------------------
    @property
    def input_tensor(self) -> Tensor:
        return self.tensors[self.input]

    @property
    def in_channels(self) -> int:
        return self.input_tensor.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        return self.input_tensor.shape[1], self.input_tensor.shape[2]

    @property
    def num_classes(self) -> int:
        return self.tensors[self.logits].shape[0]

    def param(self, layer: Layer, role: str) -> np.ndarray:
        return self.arrays[layer.params[role]]

    def layer(self, name: str) -> Layer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(name)

    def producer(self, tensor: str) -> Layer | None:
        for lay in self.layers:
            if lay.output == tensor:
                return lay
        return None

    def consumers(self, tensor: str) -> list[Layer]:
        return [lay for lay in self.layers if tensor in lay.inputs]

    def with_arrays(self, arrays: Mapping[str, np.ndarray]) -> "IR":
        """A copy with other parameter values (same keys, shapes): for run-time weight reloads."""
        new = dict(self.arrays)
        new.update(arrays)
        ir = IR(self.name, self.input, self.tensors, self.layers, self.logits, self.classes,
                MappingProxyType(new), self.meta, self.rounding, self.version)
        validate(ir)
        return ir

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": self.version,
            "name": self.name,
            "rounding": self.rounding,
            "input": self.input,
            "outputs": {"logits": self.logits, "classes": self.classes},
            "hardware": {"acc_bits": HW_ACC_BITS, "bn_bits": HW_BN_BITS},
            "meta": _jsonable(dict(self.meta)),
            "tensors": {k: t.to_json() for k, t in self.tensors.items()},
            "layers": [lay.to_json() for lay in self.layers],
            "arrays": {k: {"shape": list(a.shape), "dtype": str(a.dtype)} for k, a in sorted(self.arrays.items())},
        }


def make_ir(name, input, tensors, layers, logits, classes, arrays, meta=None) -> IR:
    """Build and validate an IR from plain Python values."""
    tensors = {t.name: t for t in tensors} if not isinstance(tensors, Mapping) else dict(tensors)
    ir = IR(name=name, input=input, tensors=MappingProxyType(tensors),
            layers=tuple(Layer(lay.name, lay.op, tuple(lay.inputs), lay.output,
                               MappingProxyType(dict(lay.attrs)), MappingProxyType(dict(lay.params)))
                         for lay in layers),
            logits=logits, classes=classes,
            arrays=MappingProxyType({k: np.asarray(v) for k, v in arrays.items()}),
            meta=MappingProxyType(dict(meta or {})))
    validate(ir)
    return ir


# ---------------------------------------------------------------------------
# I/O


def _jsonable(v):
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _paths(path) -> tuple[Path, Path]:
    p = Path(path)
    if p.suffix == ".npz":
        p = p.with_suffix(".json")
    if p.suffix != ".json":
        p = p.with_suffix(".json")
    return p, p.with_suffix(".npz")


def save(ir: IR, path) -> Path:
    """Write PATH.json and PATH.npz (deterministic: sorted keys, fixed layout)."""
    validate(ir)
    jpath, npath = _paths(path)
    jpath.parent.mkdir(parents=True, exist_ok=True)
    doc = ir.to_json()
    doc["arrays_file"] = npath.name
    jpath.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    # np.savez writes zip entries with a fixed timestamp: byte-identical for identical arrays
    with open(npath, "wb") as fh:
        np.savez(fh, **{k: ir.arrays[k] for k in sorted(ir.arrays)})
    return jpath


def _need(d: Mapping, key: str, where: str, kind=None):
    if not isinstance(d, Mapping) or key not in d:
        raise IRError(f"{where}: missing field '{key}'")
    v = d[key]
    if kind is not None and not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise IRError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, got {type(v).__name__} {v!r}")
    return v


def _qtype(d, where) -> QType:
    bits = _need(d, "bits", where, int)
    signed = _need(d, "signed", where, bool)
    f = _need(d, "f", where)
    if isinstance(f, list):
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in f):
            raise IRError(f"{where}.f: expected integers, got {f!r}")
        f = tuple(f)
    elif not isinstance(f, int) or isinstance(f, bool):
        raise IRError(f"{where}.f: expected an integer or a list of integers, got {f!r}")
    if not 1 <= bits <= 64:
        raise IRError(f"{where}.bits: {bits} is outside 1..64")
    return QType(bits, signed, f)


def from_json(doc: Mapping, arrays: Mapping[str, np.ndarray], source: str = "IR") -> IR:
    if not isinstance(doc, Mapping):
        raise IRError(f"{source}: expected a JSON object at the top level")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise IRError(f"{source}: field 'format' is {fmt!r}, expected {FORMAT!r}")
    version = _need(doc, "version", source, int)
    if version != VERSION:
        raise IRError(f"{source}: field 'version' is {version}, this unetaccel reads version {VERSION}")
    tensors = {}
    for name, t in _need(doc, "tensors", source, dict).items():
        where = f"{source}: tensors.{name}"
        shape = _need(t, "shape", where, list)
        if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
            raise IRError(f"{where}.shape: expected [C, H, W] positive integers, got {shape!r}")
        tensors[name] = Tensor(name, tuple(shape), _qtype(t, where))
    layers = []
    for i, lay in enumerate(_need(doc, "layers", source, list)):
        where = f"{source}: layers[{i}]"
        name = _need(lay, "name", where, str)
        where = f"{source}: layer '{name}'"
        inputs = _need(lay, "inputs", where, list)
        for j, x in enumerate(inputs):
            if not isinstance(x, str):
                raise IRError(f"{where}: inputs[{j}]: expected a tensor name (str), got {type(x).__name__} {x!r}")
        attrs = lay.get("attrs", {})
        if not isinstance(attrs, dict):
            raise IRError(f"{where}: attrs: expected an object (name -> value), got {type(attrs).__name__}")
        params = lay.get("params", {})
        if not isinstance(params, dict):
            raise IRError(f"{where}: params: expected an object (role -> array key), got {type(params).__name__}")
        for role, key in params.items():
            if not isinstance(key, str):
                raise IRError(f"{where}: params.{role}: expected an array key (str), got {type(key).__name__} {key!r}")
        layers.append(Layer(name, _need(lay, "op", where, str), tuple(inputs), _need(lay, "output", where, str),
                            MappingProxyType(dict(attrs)), MappingProxyType(dict(params))))
    outs = _need(doc, "outputs", source, dict)
    declared = doc.get("arrays", {})
    if not isinstance(declared, dict):
        raise IRError(f"{source}: arrays: expected an object (key -> {{shape, dtype}}), got {type(declared).__name__}")
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise IRError(f"{source}: meta: expected an object, got {type(meta).__name__}")
    for k, spec in declared.items():
        if not isinstance(spec, dict):
            raise IRError(f"{source}: arrays.{k}: expected an object {{shape, dtype}}, got {type(spec).__name__}")
        if k not in arrays:
            raise IRError(f"{source}: array '{k}' is declared in the JSON but missing from the .npz")
        a = arrays[k]
        if str(a.dtype) != spec.get("dtype") or list(a.shape) != spec.get("shape"):
            raise IRError(f"{source}: array '{k}' is {a.dtype}{list(a.shape)} in the .npz, "
                          f"the JSON declares {spec.get('dtype')}{spec.get('shape')}")
    rounding = _need(doc, "rounding", source, str)
    ir = IR(name=_need(doc, "name", source, str), input=_need(doc, "input", source, str),
            tensors=MappingProxyType(tensors), layers=tuple(layers),
            logits=_need(outs, "logits", f"{source}: outputs", str),
            classes=_need(outs, "classes", f"{source}: outputs", str),
            arrays=MappingProxyType(dict(arrays)), meta=MappingProxyType(dict(meta)),
            rounding=rounding, version=version)
    validate(ir, source)
    return ir


def load(path) -> IR:
    """Load and validate PATH.json + its .npz; raises IRError naming the bad field."""
    jpath, npath = _paths(path)
    if not jpath.is_file():
        raise IRError(f"{jpath}: no such IR file (expected the model.json written by `unetaccel quantize`)")
    try:
        doc = json.loads(jpath.read_text())
    except json.JSONDecodeError as e:
        raise IRError(f"{jpath}: not valid JSON ({e})") from None
    if isinstance(doc, dict) and "arrays_file" in doc:
        npath = jpath.parent / doc["arrays_file"]
    if not npath.is_file():
        raise IRError(f"{npath}: the IR's arrays file is missing (it is written beside {jpath.name})")
    if not zipfile.is_zipfile(npath):
        raise IRError(f"{npath}: not a valid .npz file (not a zip archive of arrays; it is written by "
                      "`unetaccel quantize` beside the JSON)")
    try:
        with np.load(npath, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # damaged members, object arrays, ...
        raise IRError(f"{npath}: not a valid .npz file ({type(e).__name__}: {e})") from None
    return from_json(doc, arrays, str(jpath))


# ---------------------------------------------------------------------------
# validation

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


def summary(ir: IR, lanes=(8, 8)) -> list[dict]:
    """Per layer: shapes, bits, f, accumulator width, parameter bytes, MACs and ideal cycles."""
    pin, pout = lanes
    rows = []
    for lay in ir.layers:
        x, y = ir.tensors[lay.inputs[0]], ir.tensors[lay.output]
        macs = 0
        ideal = 0
        if lay.op == "conv2d":
            k = int(lay.attrs["kernel"])
            macs = y.shape[1] * y.shape[2] * y.shape[0] * x.shape[0] * k * k
            ideal = y.shape[1] * y.shape[2] * math.ceil(y.shape[0] / pout) * k * k * math.ceil(x.shape[0] / pin)
        elif lay.op == "conv_transpose2d":
            macs = x.shape[1] * x.shape[2] * x.shape[0] * y.shape[0] * 4
            ideal = x.shape[1] * x.shape[2] * 4 * math.ceil(y.shape[0] / pout) * math.ceil(x.shape[0] / pin)
        pbytes = sum(ir.arrays[k].size * ir.arrays[k].dtype.itemsize for k in lay.params.values())
        rows.append({
            "layer": lay.name, "op": lay.op, "in": list(x.shape), "out": list(y.shape),
            "out_bits": y.type.bits, "out_signed": y.type.signed,
            "out_f": list(y.type.f) if y.type.per_channel else y.type.f,
            "acc_bits": lay.attrs.get("acc_bits", lay.attrs.get("prod_bits")),
            "param_bytes": int(pbytes), "act_bytes": int(np.prod(y.shape) * ((y.type.bits + 7) // 8)),
            "macs": int(macs), "ideal_cycles": int(ideal),
        })
    return rows
