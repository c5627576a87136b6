"""The NumPy fixed-point reference: the golden model every later rung must equal.

Integer semantics only (no torch): every result equals exact integer
arithmetic. Convolutions use float32 (or float64) BLAS on integer values only
where the layer's accumulator bound proves the sums exact (float32 below 2^24,
float64 below 2^53); the bound is asserted per layer, and int64 arithmetic is
the fallback. Batched and vectorised: no Python loop over pixels or channels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arith import requantize
from .model import IR, IRError, Layer

_EXACT = {np.float32: 1 << 24, np.float64: 1 << 53}


@dataclass
class Result:
    classes: np.ndarray  # N x H x W, uint8/int64 class indices
    logits: np.ndarray   # N x K x H x W int codes
    trace: dict[str, np.ndarray] = field(default_factory=dict)  # tensor name -> N x C x H x W


def to_nchw(ir: IR, images, layout: str = "auto") -> np.ndarray:
    """uint8 images N x H x W x C ('nhwc') or N x C x H x W ('nchw') -> int64 N x C x H x W.

    With layout='auto' the channel axis is the one of size C (the IR's input
    channels); when both axes 1 and 3 have that size, pass layout explicitly.
    A single image (3 dims) is accepted as a batch of one.
    """
    x = np.asarray(images)
    if x.dtype != np.uint8:
        raise IRError(f"images: expected dtype uint8, got {x.dtype}")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise IRError(f"images: expected N x H x W x C or N x C x H x W, got shape {list(x.shape)}")
    c = ir.in_channels
    h, w = ir.size
    if layout == "auto":
        nchw = x.shape[1] == c and x.shape[2:] == (h, w)
        nhwc = x.shape[3] == c and x.shape[1:3] == (h, w)
        if nchw and nhwc:
            raise IRError(f"images: shape {list(x.shape)} is ambiguous; pass layout='nchw' or 'nhwc'")
        layout = "nchw" if nchw else "nhwc" if nhwc else "bad"
    if layout == "nhwc":
        x = x.transpose(0, 3, 1, 2)
    elif layout != "nchw":
        raise IRError(f"images: shape {list(x.shape)} does not match the network input "
                      f"{c} x {h} x {w} (C x H x W) in either layout")
    if x.shape[1:] != (c, h, w):
        raise IRError(f"images: got {list(x.shape[1:])} (C, H, W), the network takes {[c, h, w]}")
    return x.astype(np.int64)


def _blas_dtype(bound: int):
    for dt in (np.float32, np.float64):
        if bound < _EXACT[dt]:
            return dt
    return None


def _matmul_exact(a: np.ndarray, b: np.ndarray, bound: int) -> np.ndarray:
    """a @ b for integer-valued arrays, exact; bound >= max |result| (asserted by the caller)."""
    dt = _blas_dtype(bound)
    if dt is None:
        return a.astype(np.int64) @ b.astype(np.int64)
    return np.rint(a.astype(dt) @ b.astype(dt)).astype(np.int64)


def conv2d(x: np.ndarray, w: np.ndarray, padding: int, bias: np.ndarray | None = None) -> np.ndarray:
    """Exact integer 'same' convolution, stride 1. x: N x Cin x H x W, w: Cout x Cin x K x K."""
    n, cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    wmat = w.reshape(cout, cin * k * k).astype(np.int64)
    bound = int(np.abs(x).max(initial=0)) * int(np.abs(wmat).sum(axis=1).max(initial=0))
    if bias is not None:
        bound += int(np.abs(bias).max(initial=0))
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    if k == 1:
        cols = xp.transpose(0, 2, 3, 1).reshape(n * h * wd, cin)
    else:
        win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # N,Cin,H,W,K,K
        cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * wd, cin * k * k)
    acc = _matmul_exact(cols, wmat.T, bound)
    if bias is not None:
        acc = acc + bias.astype(np.int64)[None, :]
    return acc.reshape(n, h, wd, cout).transpose(0, 3, 1, 2)


def conv_transpose2d_k2s2(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact transposed conv, kernel 2, stride 2 (no overlap: four 1x1 phases).
    x: N x Cin x H x W, w: Cin x Cout x 2 x 2 -> N x Cout x 2H x 2W."""
    n, cin, h, wd = x.shape
    _, cout, _, _ = w.shape
    wmat = w.reshape(cin, cout * 4).astype(np.int64)  # columns ordered (cout, dy, dx)
    bound = int(np.abs(x).max(initial=0)) * int(np.abs(w).sum(axis=0).max(initial=0))
    cols = x.transpose(0, 2, 3, 1).reshape(n * h * wd, cin)
    out = _matmul_exact(cols, wmat, bound).reshape(n, h, wd, cout, 2, 2)
    return out.transpose(0, 3, 1, 4, 2, 5).reshape(n, cout, 2 * h, 2 * wd)


def maxpool2x2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def _per_channel(v: np.ndarray) -> np.ndarray:
    return v.astype(np.int64).reshape(1, -1, 1, 1)


def run_layer(ir: IR, lay: Layer, *inputs: np.ndarray) -> np.ndarray:
    """One IR layer on N x C x H x W int64 codes."""
    a = lay.attrs
    x = inputs[0]
    if lay.op == "conv2d":
        bias = ir.param(lay, "bias") if "bias" in lay.params else None
        y = conv2d(x, ir.param(lay, "weight"), int(a["padding"]), bias)
        if lay.requantizes:
            y = requantize(y, _per_channel(ir.param(lay, "shift")), int(a["lo"]), int(a["hi"]))
        return y
    if lay.op == "batchnorm":
        y = x * _per_channel(ir.param(lay, "mul")) + _per_channel(ir.param(lay, "bias"))
        return requantize(y, _per_channel(ir.param(lay, "shift")), int(a["lo"]), int(a["hi"]))
    if lay.op == "conv_transpose2d":
        y = conv_transpose2d_k2s2(x, ir.param(lay, "weight"))
        return requantize(y, _per_channel(ir.param(lay, "shift")), int(a["lo"]), int(a["hi"]))
    if lay.op == "maxpool2d":
        return maxpool2x2(x)
    if lay.op == "concat":
        return np.concatenate(inputs, axis=1)
    if lay.op == "argmax":
        return np.argmax(x, axis=1)[:, None].astype(np.int64)
    raise IRError(f"layer '{lay.name}': op {lay.op!r} is not supported by the reference")


def run(ir: IR, images, trace: bool = False, layout: str = "auto", batch: int = 64) -> Result:
    """Run the IR on uint8 images (N x H x W x C or N x C x H x W; see :func:`to_nchw`).

    Returns the class map (N x H x W), the logits (N x K x H x W) and, with
    trace=True, every IR tensor by name (N x C x H x W int64, the input included).
    """
    x = to_nchw(ir, images, layout)
    results = [_run_batch(ir, x[i:i + batch], trace) for i in range(0, len(x), batch)] or [_run_batch(ir, x, trace)]
    if len(results) == 1:
        return results[0]
    tr = {k: np.concatenate([r.trace[k] for r in results]) for k in results[0].trace}
    return Result(np.concatenate([r.classes for r in results]), np.concatenate([r.logits for r in results]), tr)


def _run_batch(ir: IR, x: np.ndarray, trace: bool) -> Result:
    env = {ir.input: x}
    # drop tensors once their last consumer has run (memory), unless tracing
    last_use = {}
    for i, lay in enumerate(ir.layers):
        for t in lay.inputs:
            last_use[t] = i
    for i, lay in enumerate(ir.layers):
        env[lay.output] = run_layer(ir, lay, *(env[t] for t in lay.inputs))
        if not trace:
            for t in lay.inputs:
                if last_use[t] == i and t not in (ir.logits, ir.classes):
                    del env[t]
    classes = env[ir.classes][:, 0]
    return Result(classes=classes, logits=env[ir.logits], trace=env if trace else {})
