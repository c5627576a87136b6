"""The integer IR: frozen dataclasses, JSON + .npz I/O and validation.

The IR is the contract between quantization and every later rung (C/HLS, RTL,
FSIC). It is a versioned JSON file describing tensors and layers, plus an .npz
holding the integer parameters by key. Loading validates everything and names
the bad field in its error.

Tensors are N x C x H x W integer codes with real = q * 2^-f; ``f`` is one
integer, or one per channel for wide (accumulator) tensors.

Ops (inputs -> output); each is declared once in :mod:`unetaccel.ir.ops` (the registry the
validator, the builder and the generators read):

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
``add``               [a, b] -> 8-bit. Residual add of two tensors of one type and shape;
                      q = clamp(rhe((a + b) * 2^-shift[c])). params: shift (C,); attrs: acc_bits, lo, hi.
``argmax``            [logits] -> class map (C = 1); ties go to the lowest index.

Parameter dtypes are fixed per role: weights int8; shifts, BatchNorm multipliers and conv
biases int32; a BatchNorm bias int32 (int64 when bias_bits > 32). Attributes are integers,
lists of integers (weight_f, mul_f) or a boolean (relu); loading checks each one's kind.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ..errors import UnetaccelError
from .arith import ROUNDING, qrange

FORMAT = "unetaccel-ir"
VERSION = 1

#: Widths of the hardware datapaths (C and Verilog); export fails beyond them.
HW_ACC_BITS = 32
HW_BN_BITS = 48


class IRError(UnetaccelError, ValueError):
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

    @property
    def tensor_f(self) -> int:
        """The one f of a per-tensor scale (activation codes); an IRError for a per-channel one."""
        if isinstance(self.f, tuple):
            raise IRError(f"a per-tensor scale was expected, this type has one f per channel ({self})")
        return self.f

    @property
    def channel_f(self) -> tuple[int, ...]:
        """The f of each channel of a per-channel scale (accumulators)."""
        if not isinstance(self.f, tuple):
            raise IRError(f"a per-channel scale was expected, this type has one f ({self})")
        return self.f

    def to_json(self) -> dict:
        return {"bits": self.bits, "signed": self.signed,
                "f": list(self.f) if isinstance(self.f, tuple) else self.f}


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
    from .validation import validate
    validate(ir)
    return ir


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
