"""Random-weight UNet IRs (no torch): test vectors for every rung after the IR.

Weights are uniform 5-bit codes; BatchNorm multipliers and biases random;
shifts calibrated on random images so that activations are lively (or, with
``saturate=True``, driven hard into saturation at both ends). With ``negative_shifts=True``
about a quarter of the channels of every requantizing layer get a left shift instead (-1 to
-3, and -40 in one channel: the widest the IR allows), so requantization saturates through
its left-shift path too. With ``residual=True`` the bottleneck and the last decoder block each get a
residual block (conv + BatchNorm at the block's own scale, then ``add`` of the block's input and
that output, requantized), as ENet/ESNet-style networks have. With ``negative_weights=True`` the
even output channels of every conv and half of the odd ones lean negative (their weights mostly
negative, a quarter of them the most negative code), the others positive, and a BatchNorm
multiplier takes its channel's sign, so activations stay lively while most sums of products are
negative (the RTL's packed multipliers, --mult dsp2, pair channel 2k, the low field, with 2k+1:
a negative low field borrows from the high one).
"""
from __future__ import annotations

import math
from typing import cast

import numpy as np

from . import reference as R
from .builder import IRBuilder
from .graph import IR, IRError


def _calib_shift(y: np.ndarray, target: float) -> np.ndarray:
    """Per-channel shift that maps the 99th percentile of |y| near target."""
    p = np.percentile(np.abs(y), 99, axis=(0, 2, 3))
    return np.array([max(0, math.ceil(math.log2(v / target))) if v > 0 else 0 for v in p], dtype=np.int64)


def random_unet(widths=(8, 16, 32, 64, 128), num_classes=21, size=(64, 64), in_channels=3, seed=0,
                saturate=False, weight_bits=5, calib_images=2, negative_shifts=False,
                residual=False, negative_weights=False) -> IR:
    """A random UNet-family IR with the same layer structure as the quantized model."""
    rng = np.random.default_rng(seed)
    h, w = size
    levels = len(widths) - 1
    if h % (1 << levels) or w % (1 << levels):
        raise IRError(f"size {h}x{w} must be a multiple of 2^{levels}")
    wmax = (1 << (weight_bits - 1)) - 1
    target = 600.0 if saturate else 90.0
    b = IRBuilder("random_unet", (in_channels, h, w))
    x_img = rng.integers(0, 256, size=(calib_images, in_channels, h, w), dtype=np.int64)
    vals = {b.input: x_img}

    def out_f():
        return int(rng.integers(3, 7))

    def draw(shape, out_axis=0):
        """Weight codes of `shape` and, with negative_weights, the sign each output channel leans to."""
        if not negative_weights:
            return rng.integers(-wmax, wmax + 1, size=shape), None
        n = shape[out_axis]
        sign = np.where((np.arange(n) % 2 == 1) & (rng.random(n) < 0.5), 1, -1)
        lean = rng.integers(-(wmax // 3), wmax + 1, size=shape)
        lean[rng.random(shape) < 0.25] = wmax
        return lean * sign.reshape([-1 if a == out_axis else 1 for a in range(len(shape))]), sign

    def calib(y, tgt, bias=None):
        """Per-channel shifts; with negative_shifts some left shifts, and in one channel -40 with
        a bias of +-2^30 (if the layer has one), so that (acc * mul + bias) << 40 passes 64 bits."""
        shift = _calib_shift(y, tgt)
        if negative_shifts:
            pick = rng.random(len(shift)) < 0.25
            shift[pick] = -rng.integers(1, 4, size=int(pick.sum()))
            c = int(rng.integers(len(shift)))
            shift[c] = -40
            if bias is not None:
                bias[c] = int(rng.choice([-1, 1])) << 30
        return shift

    def conv_bn(name, x, cout, fo=None):
        xt = b.t(x)
        cin = xt.shape[0]
        wt, sign = draw((cout, cin, 3, 3))
        acc = R.conv2d(vals[x], wt, 1)
        mul = rng.integers(24, 128, size=cout) * (rng.choice([1, 1, 1, -1], size=cout) if sign is None else sign)
        prod = acc * mul.reshape(1, -1, 1, 1)
        spread = np.abs(prod).mean(axis=(0, 2, 3)) + 1
        bias = (rng.normal(0.0, 0.5, size=cout) * spread).astype(np.int64)
        y = prod + bias.reshape(1, -1, 1, 1)
        shift = calib(y, target, bias)
        fo = out_f() if fo is None else fo
        mf = rng.integers(5, 8, size=cout)
        wf = shift - xt.type.tensor_f - mf + fo  # choose the weights' f so the scales agree
        a = b.conv2d(f"{name}.conv", x, wt, wf, weight_bits)
        vals[a] = acc
        o = b.batchnorm(f"{name}.bn", a, mul, mf, bias, fo)
        vals[o] = R.run_layer(_partial(b), b.layers[-1], acc)
        return o

    def block(name, x, cout):
        return conv_bn(f"{name}.1", conv_bn(f"{name}.0", x, cout), cout)

    def res_block(name, x):
        """x + conv_bn(x) (the branch at x's scale), requantized with a shift calibrated like the others."""
        r = conv_bn(f"{name}.conv", x, b.t(x).shape[0], fo=b.t(x).type.tensor_f)
        total = vals[x] + vals[r]
        fo = b.t(x).type.tensor_f - max(1, int(_calib_shift(total, target).max()))  # >= 1: rounding
        o = b.add(f"{name}.add", x, r, fo)
        vals[o] = R.run_layer(_partial(b), b.layers[-1], vals[x], vals[r])
        return o

    x = b.input
    skips = []
    for i, c in enumerate(widths[:-1]):
        x = block(f"enc{i}", x, c)
        skips.append(x)
        p = b.maxpool(f"pool{i}", x)
        vals[p] = R.maxpool2x2(vals[x])
        x = p
    x = block("bottleneck", x, widths[-1])
    if residual:
        x = res_block("bottleneck.res", x)
    for j, i in enumerate(range(levels - 1, -1, -1)):
        skip = skips[i]
        cin, cout = b.t(x).shape[0], widths[i]
        wt, _ = draw((cin, cout, 2, 2), out_axis=1)
        acc = R.conv_transpose2d_k2s2(vals[x], wt)
        shift = calib(acc, target)
        fo = b.t(skip).type.tensor_f
        wf = shift - b.t(x).type.tensor_f + fo
        u = b.conv_transpose(f"up{j}", x, wt, wf, fo, weight_bits)
        vals[u] = R.run_layer(_partial(b), b.layers[-1], vals[x])
        cat = b.concat(f"cat{j}", u, skip)
        vals[cat] = np.concatenate([vals[u], vals[skip]], axis=1)
        x = block(f"dec{j}", cat, cout)
        if residual and i == 0:
            x = res_block(f"dec{j}.res", x)
    cin = b.t(x).shape[0]
    wt, _ = draw((num_classes, cin, 1, 1))
    acc = R.conv2d(vals[x], wt, 0)
    bias = rng.integers(-4, 5, size=num_classes) * (np.abs(acc).mean() + 1)
    bias = bias.astype(np.int64)
    y = acc + bias.reshape(1, -1, 1, 1)
    shift = calib(y, target * 1.2 if saturate else 60.0, bias)
    fo = out_f()
    wf = shift - b.t(x).type.tensor_f + fo
    logits = b.conv2d("head", x, wt, wf, weight_bits, bias=bias, out_f=fo, out_signed=True)
    classes = b.argmax("argmax", logits)
    return b.build(logits, classes, meta={"source": "random", "seed": int(seed), "widths": list(widths),
                                          "num_classes": int(num_classes), "size": [h, w],
                                          "saturate": bool(saturate), "negative_shifts": bool(negative_shifts),
                                          "residual": bool(residual), "negative_weights": bool(negative_weights)})


def _partial(b: IRBuilder) -> IR:
    """The layers built so far, as far as reference.run_layer needs an IR (arrays and tensors)."""
    return cast(IR, _Partial(b))


class _Partial:
    """Just enough of an IR for reference.run_layer during construction."""

    def __init__(self, b: IRBuilder):
        self.arrays = b.arrays
        self.tensors = b.tensors

    def param(self, layer, role):
        return self.arrays[layer.params[role]]
