"""The NumPy fixed-point reference: the golden model every later rung must equal.

Integer semantics only (no torch): every result equals exact integer
arithmetic. Convolutions use float32 (or float64) BLAS on integer values only
where the layer's accumulator bound proves the sums exact (float32 below 2^24,
float64 below 2^53); the bound is asserted per layer, and int64 arithmetic is
the fallback; requantization runs in float32 or float64 under the same kind of
bound. Batched and vectorised: no Python loop over pixels or channels (convolutions
loop over chunks of images sized for the cache, and requantize each chunk there).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .graph import IR, IRError, Layer

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


def _check_exact(bound: int, dtype, what: str) -> None:
    """The proof obligation of the float fast path: every partial sum is an integer below 2^mantissa."""
    if bound >= _EXACT[dtype]:
        raise AssertionError(f"{what}: bound {bound} is not exact in {np.dtype(dtype).name}")


# Internally every tensor is channel-major, C x N x H x W, holding integer values in
# float32 (activation codes) or float64/int64 (wide values): one matrix product then
# covers many images. The public per-op functions take and return N x C x H x W.
#
# Convolutions run as im2col matrix products over chunks of images sized to stay in the
# CPU cache (_CHUNK_BYTES of columns), and a requantization that follows a convolution is
# applied to each chunk while it is still in cache (an "epilogue"), so a layer reads its
# input and writes its output once.

_CHUNK_BYTES = 2 << 20


def _conv_bound(xmax: int, w: np.ndarray, bias=None) -> int:
    """max over output channels of xmax * sum|w[c]| (+ max|bias|): bounds every partial sum."""
    cout = w.shape[0]
    bound = int(xmax) * int(np.abs(w.astype(np.int64)).reshape(cout, -1).sum(axis=1).max(initial=0))
    if bias is not None:
        bound += int(np.abs(np.asarray(bias, dtype=np.int64)).max(initial=0))
    return bound


def _conv_c(x: np.ndarray, w: np.ndarray, padding: int, bias=None, xmax: int | None = None, epilogue=None,
            keep_acc: bool = False):
    """'Same' stride-1 convolution, exact. x: Cin x N x H x W, w: Cout x Cin x K x K.

    Each chunk of images is unfolded (im2col: K*K*Cin rows of shifted, zero-padded views)
    and multiplied by the Cout x K*K*Cin weight matrix. Runs in float32 when
    xmax * max_c sum|w[c]| (+ max|bias|) < 2^24 bounds every partial sum, else in float64
    below 2^53, else in int64. xmax defaults to max|x| of the data (the reference passes
    the bound of the input's type).

    epilogue(acc_chunk, bias) -> out_chunk is applied to every chunk (Cout x n x H x W) of
    the accumulator, with the bias not yet added (the requantization adds it exactly).
    Returns (out, acc, dtype): out the epilogue's result (or the accumulator plus bias when
    there is none), acc the accumulator when keep_acc (else None).
    """
    cin, n, h, wd = x.shape
    cout, _, k, _ = w.shape
    if xmax is None:
        xmax = int(np.abs(x).max(initial=0))
    dt = _blas_dtype(_conv_bound(xmax, w, bias)) or np.int64
    wmat = w.astype(dt).transpose(0, 2, 3, 1).reshape(cout, k * k * cin)  # columns (ky, kx, ci)
    xd = x.astype(dt, copy=False)
    if k > 1:
        xp = np.pad(xd, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # Cin x N x H x W x K x K
    per_image = max(1, k * k * cin * h * wd * np.dtype(dt).itemsize)
    step = max(1, _CHUNK_BYTES // per_image)
    out = acc_all = None
    for n0 in range(0, n, step):
        n1 = min(n, n0 + step)
        if k == 1:
            cols = xd[:, n0:n1].reshape(cin, -1)
        else:
            cols = win[:, n0:n1].transpose(4, 5, 0, 1, 2, 3).reshape(k * k * cin, -1)
        acc = (wmat @ cols).reshape(cout, n1 - n0, h, wd)
        if keep_acc:
            if acc_all is None:
                acc_all = np.empty((cout, n, h, wd), dt)
            acc_all[:, n0:n1] = acc
        if epilogue is not None:
            y = epilogue(acc, bias)
        elif bias is not None:
            y = acc + np.asarray(bias).astype(dt).reshape(-1, 1, 1, 1)
        else:
            y = acc
        if out is None:
            out = np.empty((y.shape[0], n, h, wd), y.dtype)
        out[:, n0:n1] = y
    return out, acc_all, dt


def _nchw(f, x, *args, **kw):
    y = f(np.asarray(x).transpose(1, 0, 2, 3), *args, **kw)[0]
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3)).astype(np.int64)


def conv2d(x: np.ndarray, w: np.ndarray, padding: int, bias: np.ndarray | None = None) -> np.ndarray:
    """Exact integer 'same' convolution, stride 1. x: N x Cin x H x W, w: Cout x Cin x K x K -> int64."""
    return _nchw(_conv_c, x, np.asarray(w), padding, bias)


def _convt_c(x: np.ndarray, w: np.ndarray, xmax: int | None = None):
    """k2 s2 transposed conv, exact: four 1x1 phases. x: Cin x N x H x W, w: Cin x Cout x 2 x 2."""
    cin, n, h, wd = x.shape
    _, cout, _, _ = w.shape
    if xmax is None:
        xmax = int(np.abs(x).max(initial=0))
    bound = int(xmax) * int(np.abs(w.astype(np.int64)).sum(axis=0).max(initial=0))
    dt = _blas_dtype(bound) or np.int64
    wmat = w.transpose(1, 2, 3, 0).reshape(cout * 4, cin).astype(dt)  # rows ordered (cout, dy, dx)
    out = (wmat @ x.astype(dt, copy=False).reshape(cin, -1)).reshape(cout, 2, 2, n, h, wd)
    return out.transpose(0, 3, 4, 1, 5, 2).reshape(cout, n, 2 * h, 2 * wd), dt


def conv_transpose2d_k2s2(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact transposed conv, kernel 2, stride 2 (no overlap: four 1x1 phases).
    x: N x Cin x H x W, w: Cin x Cout x 2 x 2 -> N x Cout x 2H x 2W int64."""
    return _nchw(_convt_c, x, np.asarray(w))


def maxpool2x2(x: np.ndarray) -> np.ndarray:
    """2x2 max pooling, stride 2, on codes (any layout whose last two axes are H, W)."""
    return np.maximum(np.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2]),
                      np.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))


def _requant_c(x: np.ndarray, shift, lo: int, hi: int, bound: int, mul=None, bias=None) -> np.ndarray:
    """clamp(round_half_even((x * mul[c] + bias[c]) * 2^-shift[c]), lo, hi), x channel-major.

    Exact in floating point: with y = x*mul + bias an integer of magnitude <= bound,
    (x * (mul 2^-s)) + (bias 2^-s) = y 2^-s is a sum of exactly representable dyadic
    numbers whose exact result is representable, so no step rounds; rint then rounds half
    to even. Runs in float32 when bound < 2^24, in float64 when bound < 2^53 (asserted).
    `bound` may come from the data (max|x| * max|mul| + max|bias|) or from the types; the
    tighter one makes float32 possible more often. Returns float32 codes.
    """
    dt = _blas_dtype(bound)
    _check_exact(bound, np.float64 if dt is None else dt, "requantize")
    c = x.shape[0]
    scale = np.exp2(-np.asarray(shift, dtype=np.float64)).reshape(c, 1, 1, 1)
    m = (scale if mul is None else np.asarray(mul, dtype=np.float64).reshape(c, 1, 1, 1) * scale).astype(dt)
    y = np.multiply(x, m, dtype=dt)
    if bias is not None:
        y += (np.asarray(bias, dtype=np.float64).reshape(c, 1, 1, 1) * scale).astype(dt)
    np.rint(y, out=y)
    np.clip(y, lo, hi, out=y)
    return y.astype(np.float32, copy=False)


def _data_bound(x: np.ndarray, mul=None, bias=None) -> int:
    """max|x * mul + bias| bound from the data: max|x| * max|mul| + max|bias|."""
    b = int(np.abs(x).max(initial=0))
    if mul is not None:
        b *= int(np.abs(np.asarray(mul, dtype=np.int64)).max(initial=0))
    if bias is not None:
        b += int(np.abs(np.asarray(bias, dtype=np.int64)).max(initial=0))
    return b


def _requant_epilogue(shift, lo: int, hi: int, mul=None, bias=None):
    """An epilogue for _conv_c: requantize each accumulator chunk (with the layer's bias, or a
    following BatchNorm's multiplier and bias)."""
    def f(acc, conv_bias):
        b = conv_bias if bias is None else bias
        return _requant_c(acc, shift, lo, hi, _data_bound(acc, mul, b), mul=mul, bias=b)
    return f


def _argmax_c(x: np.ndarray, xmax: int) -> np.ndarray:
    """argmax over channels of integer codes x (K x N x H x W, |x| <= xmax), ties to the lowest
    index (np.argmax's rule): one max-reduction of the keys x[c] * 2^b + (K-1-c), exact in
    float32 while (xmax + 1) * 2^b < 2^24 (else np.argmax, about 5x slower)."""
    k = x.shape[0]
    b = max(1, (k - 1).bit_length())
    if (int(xmax) + 1) << b >= _EXACT[np.float32]:
        return np.argmax(x, axis=0)[None].astype(np.float32)
    keys = x * np.float32(1 << b)
    keys += (k - 1 - np.arange(k, dtype=np.float32)).reshape(k, 1, 1, 1)
    best = keys.max(axis=0)
    return ((k - 1) - np.mod(best, np.float32(1 << b)))[None]


def _xmax(ir: IR, lay: Layer) -> int:
    t = ir.tensors[lay.inputs[0]].type
    return max(abs(t.lo), abs(t.hi))


def _bn_params(ir: IR, bn: Layer):
    a = bn.attrs
    return (ir.param(bn, "shift"), int(a["lo"]), int(a["hi"]), ir.param(bn, "mul"), ir.param(bn, "bias"))


def _conv_bn_c(ir: IR, conv: Layer, bn: Layer, x: np.ndarray, keep_acc: bool):
    """A conv2d and the BatchNorm that consumes it, fused: the BatchNorm requantizes each
    accumulator chunk in cache. Returns (BatchNorm output, accumulator or None)."""
    shift, lo, hi, mul, bias = _bn_params(ir, bn)
    out, acc, _ = _conv_c(x, ir.param(conv, "weight"), int(conv.attrs["padding"]), None, _xmax(ir, conv),
                          epilogue=_requant_epilogue(shift, lo, hi, mul, bias), keep_acc=keep_acc)
    return out, acc


def _layer_c(ir: IR, lay: Layer, *inputs: np.ndarray) -> np.ndarray:
    """One IR layer on channel-major integer-valued arrays (the fast path of run)."""
    a = lay.attrs
    x = inputs[0]
    if lay.op == "conv2d":
        bias = ir.param(lay, "bias") if "bias" in lay.params else None
        if lay.requantizes:  # the bias is added inside the requantization
            ep = _requant_epilogue(ir.param(lay, "shift"), int(a["lo"]), int(a["hi"]))
            return _conv_c(x, ir.param(lay, "weight"), int(a["padding"]), bias, _xmax(ir, lay), epilogue=ep)[0]
        return _conv_c(x, ir.param(lay, "weight"), int(a["padding"]), bias, _xmax(ir, lay))[0]
    if lay.op == "batchnorm":
        shift, lo, hi, mul, bias = _bn_params(ir, lay)
        return _requant_c(x, shift, lo, hi, _data_bound(x, mul, bias), mul=mul, bias=bias)
    if lay.op == "conv_transpose2d":
        y, _ = _convt_c(x, ir.param(lay, "weight"), _xmax(ir, lay))
        return _requant_c(y, ir.param(lay, "shift"), int(a["lo"]), int(a["hi"]), _data_bound(y))
    if lay.op == "maxpool2d":
        return maxpool2x2(x)
    if lay.op == "concat":
        return np.concatenate(inputs, axis=0)
    if lay.op == "add":  # codes of one type: the sum is exact in float32 (|a + b| < 2^24)
        y = np.add(inputs[0], inputs[1], dtype=np.float64 if _xmax(ir, lay) >= 1 << 22 else np.float32)
        return _requant_c(y, ir.param(lay, "shift"), int(a["lo"]), int(a["hi"]), 2 * _xmax(ir, lay))
    if lay.op == "argmax":
        return _argmax_c(x, _xmax(ir, lay))
    raise IRError(f"layer '{lay.name}': op {lay.op!r} is not supported by the reference")


def run_layer(ir: IR, lay: Layer, *inputs: np.ndarray) -> np.ndarray:
    """One IR layer on N x C x H x W integer codes; returns int64 codes."""
    y = _layer_c(ir, lay, *(np.asarray(i).transpose(1, 0, 2, 3) for i in inputs))
    return np.ascontiguousarray(y.transpose(1, 0, 2, 3)).astype(np.int64)


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


def _fusable_bn(ir: IR, i: int, uses: dict) -> Layer | None:
    """The BatchNorm after layer i when it is a conv2d whose only reader is that BatchNorm."""
    lay = ir.layers[i]
    if lay.op != "conv2d" or lay.requantizes or i + 1 >= len(ir.layers):
        return None
    nxt = ir.layers[i + 1]
    if nxt.op == "batchnorm" and nxt.inputs == (lay.output,) and uses.get(lay.output) == 1:
        return nxt
    return None


def _run_batch(ir: IR, x: np.ndarray, trace: bool) -> Result:
    env = {ir.input: np.ascontiguousarray(x.transpose(1, 0, 2, 3), dtype=np.float32)}
    # drop tensors once their last consumer has run (memory), unless tracing
    last_use: dict[str, int] = {}
    uses: dict[str, int] = {}
    for i, lay in enumerate(ir.layers):
        for t in lay.inputs:
            last_use[t] = i
            uses[t] = uses.get(t, 0) + 1
    i = 0
    while i < len(ir.layers):
        lay = ir.layers[i]
        bn = _fusable_bn(ir, i, uses)
        if bn is not None:
            env[bn.output], acc = _conv_bn_c(ir, lay, bn, env[lay.inputs[0]], keep_acc=trace)
            if trace:
                env[lay.output] = acc
            done: tuple[Layer, ...] = (lay, bn)
        else:
            env[lay.output] = _layer_c(ir, lay, *(env[t] for t in lay.inputs))
            done = (lay,)
        i += len(done)
        if not trace:
            for t in {t for d in done for t in d.inputs}:
                if last_use[t] < i and t not in (ir.logits, ir.classes):
                    env.pop(t, None)
    keep = env if trace else {k: env[k] for k in (ir.logits, ir.classes)}
    as_int = {k: np.ascontiguousarray(v.transpose(1, 0, 2, 3)).astype(np.int64) for k, v in keep.items()}
    return Result(classes=as_int[ir.classes][:, 0], logits=as_int[ir.logits], trace=as_int if trace else {})
