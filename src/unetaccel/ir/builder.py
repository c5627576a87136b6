"""Build IRs layer by layer: used by the QONNX importer and the random-network generator.

The builder computes output shapes, scales (f), worst-case accumulator widths
and shifts from the inputs, so every producer of IRs follows one set of rules.
"""
from __future__ import annotations

import numpy as np

from .arith import qrange
from .graph import IR, IRError, Layer, QType, Tensor, make_ir
from .ops import add_acc_bits, bn_prod_bits, conv_acc_bits, convt_acc_bits

ACT = dict(bits=8, signed=False)


def _fvec(t: QType, c: int) -> np.ndarray:
    return np.asarray(t.f if t.per_channel else [t.f] * c, dtype=np.int64)


class IRBuilder:
    def __init__(self, name: str, in_shape, in_f: int = 8, input_name: str = "input"):
        c, h, w = (int(v) for v in in_shape)
        self.name = name
        self.input = input_name
        self.tensors: dict[str, Tensor] = {input_name: Tensor(input_name, (c, h, w), QType(8, False, int(in_f)))}
        self.layers: list[Layer] = []
        self.arrays: dict[str, np.ndarray] = {}

    # -- helpers -----------------------------------------------------------
    def t(self, name: str) -> Tensor:
        return self.tensors[name]

    def _new(self, name, shape, qtype) -> str:
        if name in self.tensors:
            raise IRError(f"tensor '{name}' defined twice")
        c, h, w = (int(s) for s in shape)
        self.tensors[name] = Tensor(name, (c, h, w), qtype)
        return name

    def _param(self, layer, role, arr, dtype) -> str:
        key = f"{layer}.{role}"
        a = np.asarray(arr)
        if not np.array_equal(a.astype(dtype), a):
            raise IRError(f"layer '{layer}': params.{role} does not fit {np.dtype(dtype).name}")
        self.arrays[key] = np.ascontiguousarray(a.astype(dtype))
        return key

    @staticmethod
    def _out_type(out_f, signed=False, bits=8) -> QType:
        return QType(int(bits), bool(signed), int(out_f))

    # -- ops ---------------------------------------------------------------
    def conv2d(self, name, x, weight, weight_f, weight_bits=5, padding=None, bias=None,
               out_f=None, out_bits=8, out_signed=False, relu=False) -> str:
        """A stride-1 'same' convolution. Without out_f the output is the accumulator;
        with out_f it is requantized to (out_bits, out_signed) at f = out_f."""
        xt = self.t(x)
        weight = np.asarray(weight)
        cout, cin, k, _ = weight.shape
        if cin != xt.shape[0]:
            raise IRError(f"layer '{name}': weight takes {cin} input channels, '{x}' has {xt.shape[0]}")
        padding = (k - 1) // 2 if padding is None else int(padding)
        wf = np.broadcast_to(np.asarray(weight_f, dtype=np.int64), (cout,))
        params = {"weight": self._param(name, "weight", weight, np.int8)}
        if bias is not None:
            params["bias"] = self._param(name, "bias", bias, np.int32)
        acc_bits = conv_acc_bits(xt.type, cin, k, weight_bits, bias)
        attrs = dict(kernel=k, padding=padding, stride=1, weight_bits=weight_bits,
                     weight_f=[int(v) for v in wf], acc_bits=acc_bits)
        f_acc = xt.type.tensor_f + wf
        if out_f is None:
            out = self._new(name, (cout, *xt.shape[1:]), QType(acc_bits, True, tuple(int(v) for v in f_acc)))
        else:
            lo, hi = qrange(out_bits, out_signed)
            attrs.update(lo=0 if relu else lo, hi=hi)
            params["shift"] = self._param(name, "shift", f_acc - int(out_f), np.int32)
            out = self._new(name, (cout, *xt.shape[1:]), self._out_type(out_f, out_signed, out_bits))
        self.layers.append(Layer(name, "conv2d", (x,), out, attrs, params))
        return out

    def batchnorm(self, name, acc, mul, mul_f, bias, out_f, mul_bits=8, relu=True, bias_bits=32) -> str:
        at = self.t(acc)
        c = at.shape[0]
        mul = np.asarray(mul, dtype=np.int64)
        bias = np.asarray(bias, dtype=np.int64)
        mf = np.broadcast_to(np.asarray(mul_f, dtype=np.int64), (c,))
        prod = bn_prod_bits(at.type, mul, bias)
        lo, hi = qrange(8, False)
        attrs = dict(mul_bits=mul_bits, mul_f=[int(v) for v in mf], bias_bits=bias_bits, prod_bits=prod,
                     relu=bool(relu), lo=lo if relu else -128, hi=hi)
        if not relu:
            raise IRError(f"layer '{name}': a batchnorm without ReLU would need a signed output; not supported")
        params = {"mul": self._param(name, "mul", mul, np.int32),
                  "bias": self._param(name, "bias", bias, np.int64 if bias_bits > 32 else np.int32),
                  "shift": self._param(name, "shift", _fvec(at.type, c) + mf - int(out_f), np.int32)}
        out = self._new(name, at.shape, self._out_type(out_f))
        self.layers.append(Layer(name, "batchnorm", (acc,), out, attrs, params))
        return out

    def maxpool(self, name, x) -> str:
        xt = self.t(x)
        c, h, w = xt.shape
        out = self._new(name, (c, h // 2, w // 2), xt.type)
        self.layers.append(Layer(name, "maxpool2d", (x,), out, dict(kernel=2, stride=2), {}))
        return out

    def conv_transpose(self, name, x, weight, weight_f, out_f, weight_bits=5) -> str:
        """k2 s2 transposed conv, requantized (with ReLU clamp at 0) to uint8 at f = out_f.
        weight: Cin x Cout x 2 x 2 (PyTorch layout)."""
        xt = self.t(x)
        weight = np.asarray(weight)
        cin, cout = weight.shape[:2]
        if weight.shape[2:] != (2, 2) or cin != xt.shape[0]:
            raise IRError(f"layer '{name}': weight shape {list(weight.shape)} does not fit '{x}' {list(xt.shape)}")
        wf = np.broadcast_to(np.asarray(weight_f, dtype=np.int64), (cout,))
        acc_bits = convt_acc_bits(xt.type, cin, weight_bits)
        attrs = dict(kernel=2, stride=2, weight_bits=weight_bits, weight_f=[int(v) for v in wf],
                     acc_bits=acc_bits, lo=0, hi=255)
        params = {"weight": self._param(name, "weight", weight, np.int8),
                  "shift": self._param(name, "shift", xt.type.tensor_f + wf - int(out_f), np.int32)}
        c, h, w = xt.shape
        out = self._new(name, (cout, 2 * h, 2 * w), self._out_type(out_f))
        self.layers.append(Layer(name, "conv_transpose2d", (x,), out, attrs, params))
        return out

    def concat(self, name, a, b) -> str:
        at, bt = self.t(a), self.t(b)
        out = self._new(name, (at.shape[0] + bt.shape[0], *at.shape[1:]), at.type)
        self.layers.append(Layer(name, "concat", (a, b), out, {}, {}))
        return out

    def add(self, name, a, b, out_f, relu=True) -> str:
        """Residual add of two tensors of one type, requantized to uint8 at f = out_f (ReLU clamp
        at 0; relu=False saturates to int8 instead)."""
        at, bt = self.t(a), self.t(b)
        if at.type != bt.type or at.shape != bt.shape:
            raise IRError(f"layer '{name}': add inputs '{a}' {list(at.shape)} {at.type} and '{b}' "
                          f"{list(bt.shape)} {bt.type} must share one shape and one type")
        c = at.shape[0]
        lo, hi = (0, 255) if relu else (-128, 127)
        attrs = dict(acc_bits=add_acc_bits(at.type, bt.type), lo=lo, hi=hi)
        params = {"shift": self._param(name, "shift", np.full(c, at.type.tensor_f - int(out_f)), np.int32)}
        out = self._new(name, at.shape, self._out_type(out_f, signed=not relu))
        self.layers.append(Layer(name, "add", (a, b), out, attrs, params))
        return out

    def argmax(self, name, logits) -> str:
        lt = self.t(logits)
        bits = max(1, (lt.shape[0] - 1).bit_length())
        bits = 8 if bits <= 8 else 16
        out = self._new(name, (1, *lt.shape[1:]), QType(bits, False, 0))
        self.layers.append(Layer(name, "argmax", (logits,), out, {}, {}))
        return out

    def build(self, logits: str, classes: str, meta=None) -> IR:
        return make_ir(self.name, self.input, self.tensors, self.layers, logits, classes, self.arrays, meta)
