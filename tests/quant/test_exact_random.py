"""Brevitas (float64) == NumPy reference, at every IR tensor, on random-weight networks.

Covers non-default widths, class counts, a non-square input, weights and inputs
that drive requantization into saturation, and exact .5 ties.
"""
import numpy as np
import pytest
import torch

from unetaccel.ir import reference as R
from unetaccel.quant.export import export_qonnx, qonnx_to_ir
from unetaccel.quant.job import brevitas_trace, compare

from qhelpers import random_qmodel


CASES = [
    ((8, 16, 32, 64, 128), 21, (64, 64), 11, False),
    ((4, 8, 16), 5, (32, 48), 12, False),
    ((6, 12), 3, (16, 40), 13, False),
    ((4, 8, 16), 7, (24, 16), 14, True),
]


@pytest.mark.parametrize("widths,classes,size,seed,saturate", CASES)
def test_brevitas_equals_reference_every_layer(widths, classes, size, seed, saturate, tmp_path):
    print("seed", seed)
    q, imgs = random_qmodel(widths, classes, size, seed, saturate)
    ir = qonnx_to_ir(export_qonnx(q, tmp_path / "m.onnx", size))
    assert ir.num_classes == classes and ir.size == size
    mism, rows = compare(q, ir, imgs[:4])
    bad = [r for r in rows if r["mismatches"]]
    assert mism == 0, bad
    assert len(rows) == len(ir.layers) + 1
    ref = R.run(ir, imgs[:4], trace=True)
    acts = [ref.trace[lay.output] for lay in ir.layers if lay.op == "batchnorm"]
    frac_sat = np.mean([np.mean(a == 255) for a in acts])
    frac_zero = np.mean([np.mean(a == 0) for a in acts])
    print(f"saturated at 255: {frac_sat:.3f}, at 0: {frac_zero:.3f}")
    if saturate:
        assert frac_sat > 0.05, "the saturation case must actually saturate"
        logits = ref.logits
        assert np.any(logits == 127) or np.any(logits == -128)


def test_ties_are_rounded_half_to_even_in_both(tmp_path):
    """The first BatchNorm's bias is set so that y = acc*m + b lands exactly on .5 ties
    (k * 2^s + 2^(s-1), k odd and even) wherever the accumulator is 0: Brevitas and
    the reference must round every tie the same way (to even)."""
    seed = 21
    print("seed", seed)
    q, _ = random_qmodel((4, 8), 3, (8, 8), seed)
    ir = qonnx_to_ir(export_qonnx(q, tmp_path / "m.onnx", (8, 8)))
    conv, bn = ir.layers[0], ir.layers[1]
    assert bn.op == "batchnorm"
    shift = ir.param(bn, "shift").astype(np.int64)
    assert np.all(shift > 0)
    f_bias = np.asarray(ir.tensors[conv.output].type.f) + np.asarray(bn.attrs["mul_f"])
    k = np.arange(1, len(shift) + 1)  # 1, 2, 3, 4: odd k (half-down differs) and even k (half-up differs)
    assert set(k % 2) == {0, 1} and k.max() + 1 < 255
    b_int = k * (1 << shift) + (1 << (shift - 1))
    with torch.no_grad():
        q.encoders[0][1].bias.copy_(torch.from_numpy(b_int * 2.0 ** (-f_bias)))
    ir = qonnx_to_ir(export_qonnx(q, tmp_path / "m2.onnx", (8, 8)))
    assert np.array_equal(ir.param(ir.layers[1], "bias"), b_int)
    imgs = np.zeros((6, 3, 8, 8), np.uint8)
    rng = np.random.default_rng(seed)
    for i in range(1, 6):  # sparse bright pixels: the accumulator is 0 away from them
        imgs[i, rng.integers(0, 3), rng.integers(0, 8), rng.integers(0, 8)] = rng.integers(1, 256)
    ref = R.run(ir, imgs, trace=True)
    acc = ref.trace[conv.output]
    ties = int((acc == 0).sum())
    print("pixels on an exact .5 tie in the first batchnorm:", ties)
    assert ties > 100
    out = ref.trace[ir.layers[1].output]
    want = k + (k % 2)  # k + 0.5 to even: 1.5 -> 2, 2.5 -> 2, 3.5 -> 4, 4.5 -> 4 (never saturated)
    for c in range(len(k)):
        assert np.all(out[:, c][acc[:, c] == 0] == want[c]), (c, k[c])
    mism, rows = compare(q, ir, imgs)
    assert mism == 0, [r for r in rows if r["mismatches"]]


def _half_even(acc: np.ndarray, s: int, lo: int, hi: int) -> np.ndarray:
    """clamp(acc * 2^-s rounded half to even): Python's round() on exact fractions, an oracle
    independent of the reference's float path and of ir.arith."""
    from fractions import Fraction
    flat = [min(max(round(Fraction(int(v), 1 << s)), lo), hi) for v in acc.ravel()]
    return np.array(flat, dtype=np.int64).reshape(acc.shape)


def _lively_channels(x: np.ndarray) -> list[int]:
    """Channels of N x C x H x W codes ordered by how many distinct values they hold."""
    return sorted(range(x.shape[1]), key=lambda c: -len(np.unique(x[:, c])))


TIE_SHIFT = 4  # y * 2^-4: a tie is acc = 8 (mod 16)


def _designed_weight(shape_cin_cout, pairs, e):
    """Float weights whose 5-bit codes are 15 on input channel a and 1 on b for each output
    channel (all taps): the max |w| = 15 * 2^-e fixes the channel's scale at 2^-e exactly."""
    cin, cout = shape_cin_cout
    w = np.zeros((cin, cout), np.float64)
    for c, (a, b) in enumerate(pairs):
        w[a, c], w[b, c] = 15.0, 1.0
    return w * 2.0 ** -e


def _check_ties(name, acc, out, lo, hi, min_ties):
    want = _half_even(acc, TIE_SHIFT, lo, hi)
    assert np.array_equal(out, want), f"{name}: the reference does not round half to even"
    half = 1 << (TIE_SHIFT - 1)
    tie = (acc & ((1 << TIE_SHIFT) - 1)) == half
    floor = acc >> TIE_SHIFT
    inside = tie & (floor >= lo) & (floor + 1 <= hi)  # ties whose rounding is not hidden by saturation
    print(f"{name}: {int(tie.sum())} exact .5 ties, {int(inside.sum())} unsaturated, "
          f"{int((inside & (floor % 2 == 0)).sum())} with an even floor (half up would differ)")
    assert inside.sum() >= min_ties
    assert np.any(inside & (floor % 2 == 0)) and np.any(inside & (floor % 2 == 1))
    assert np.array_equal(out[inside], floor[inside] + (floor[inside] & 1))


def _tie_model(tmp_path, seed):
    q, imgs = random_qmodel((4, 8), 3, (16, 16), seed)
    rng = np.random.default_rng(seed)
    imgs = np.concatenate([imgs, rng.integers(0, 256, (8, 3, 16, 16), dtype=np.uint8)])
    return q, imgs, qonnx_to_ir(export_qonnx(q, tmp_path / "m0.onnx", (16, 16)))


def test_ties_in_the_transposed_conv_requantization(tmp_path):
    """The transposed conv's weights are set so that its accumulator is 15*x[a] + x[b] and its
    shift is 4: wherever x[b] - x[a] = 8 (mod 16) the requantization input is an exact .5 tie."""
    seed = 23
    print("seed", seed)
    q, imgs, ir = _tie_model(tmp_path, seed)
    up = next(lay for lay in ir.layers if lay.op == "conv_transpose2d")
    f_in, f_out = ir.tensors[up.inputs[0]].type.f, ir.tensors[up.output].type.f
    x = R.run(ir, imgs, trace=True).trace[up.inputs[0]]
    order = _lively_channels(x)
    cout = ir.tensors[up.output].shape[0]
    pairs = [(order[c % 3], order[(c + 1) % 3]) for c in range(cout)]
    e = TIE_SHIFT - f_in + f_out  # shift = f_in + f_w - f_out
    w = _designed_weight((x.shape[1], cout), pairs, e)
    with torch.no_grad():
        q.ups[0].weight.copy_(torch.from_numpy(w[:, :, None, None].repeat(2, 2).repeat(2, 3)))
    ir = qonnx_to_ir(export_qonnx(q, tmp_path / "m1.onnx", (16, 16)))
    up = next(lay for lay in ir.layers if lay.op == "conv_transpose2d")
    assert np.all(ir.param(up, "shift") == TIE_SHIFT)
    assert np.array_equal(ir.param(up, "weight")[:, :, 0, 0], np.rint(w * 2.0 ** e))
    ref = R.run(ir, imgs, trace=True)
    xa = np.stack([ref.trace[up.inputs[0]][:, a] for a, _ in pairs], axis=1)
    xb = np.stack([ref.trace[up.inputs[0]][:, b] for _, b in pairs], axis=1)
    acc = (15 * xa + xb).repeat(2, axis=2).repeat(2, axis=3)  # every phase has the same taps
    _check_ties("conv_transpose2d", acc, ref.trace[up.output], 0, 255, min_ties=50)
    mism, rows = compare(q, ir, imgs)
    assert mism == 0, [r for r in rows if r["mismatches"]]


def test_ties_in_the_head_requantization(tmp_path):
    """The head (1x1 conv with bias, signed int8 logits): accumulator 15*x[a] + x[b] + bias with
    bias = 8 (mod 16) and shift 4, so every pixel where x[a] = x[b] = 0, and x[b] - x[a] = 0
    (mod 16) elsewhere, is an exact .5 tie; biases near -2048 keep the ties inside int8."""
    seed = 29
    print("seed", seed)
    q, imgs, ir = _tie_model(tmp_path, seed)
    head = ir.layers[-2]
    assert head.op == "conv2d" and "bias" in head.params
    f_in, f_out = ir.tensors[head.inputs[0]].type.f, ir.tensors[head.output].type.f
    x = R.run(ir, imgs, trace=True).trace[head.inputs[0]]
    order = _lively_channels(x)
    cout = ir.tensors[head.output].shape[0]
    pairs = [(order[c % 2], order[(c + 1) % 2]) for c in range(cout)]
    e = TIE_SHIFT - f_in + f_out
    w = _designed_weight((x.shape[1], cout), pairs, e)  # Cin x Cout
    bias = -2040 + 16 * np.arange(cout)  # = 8 (mod 16): -127.5, -126.5, ... at zero input
    with torch.no_grad():
        q.head.weight.copy_(torch.from_numpy(w.T[:, :, None, None]))
        q.head.bias.copy_(torch.from_numpy(bias * 2.0 ** -(f_in + e)))
    ir = qonnx_to_ir(export_qonnx(q, tmp_path / "m1.onnx", (16, 16)))
    head = ir.layers[-2]
    assert np.all(ir.param(head, "shift") == TIE_SHIFT)
    assert np.array_equal(ir.param(head, "bias"), bias)
    assert (head.attrs["lo"], head.attrs["hi"]) == (-128, 127)
    ref = R.run(ir, imgs, trace=True)
    xin = ref.trace[head.inputs[0]]
    acc = np.stack([15 * xin[:, a] + xin[:, b] + bias[c] for c, (a, b) in enumerate(pairs)], axis=1)
    _check_ties("head", acc, ref.trace[head.output], -128, 127, min_ties=50)
    mism, rows = compare(q, ir, imgs)
    assert mism == 0, [r for r in rows if r["mismatches"]]


def test_brevitas_trace_matches_its_own_output():
    seed = 5
    print("seed", seed)
    q, imgs = random_qmodel((4, 8), 3, (8, 8), seed)
    tr = brevitas_trace(q, imgs[:2])
    q.eval()
    with torch.no_grad():
        out = q(torch.from_numpy(imgs[:2]).float() / 256)
    assert torch.equal(out.argmax(1), torch.from_numpy(tr[-1][1]).argmax(1))


def test_compare_reports_a_single_wrong_value(tmp_path):
    """The Brevitas-vs-reference check is not vacuous: one changed shift is caught and located."""
    from unetaccel.ir.graph import make_ir
    seed = 41
    print("seed", seed)
    q, imgs = random_qmodel((4, 8), 3, (8, 8), seed)
    ir = qonnx_to_ir(export_qonnx(q, tmp_path / "m.onnx", (8, 8)))
    lay = ir.layers[1]  # the first batchnorm
    key = lay.params["bias"]
    arrays = dict(ir.arrays)
    arrays[key] = arrays[key].copy()
    arrays[key][0] += 1 << int(ir.param(lay, "shift")[0])  # exactly one output step on channel 0
    bad = make_ir(ir.name, ir.input, ir.tensors, ir.layers, ir.logits, ir.classes, arrays)
    mism, rows = compare(q, bad, imgs[:2])
    assert mism > 0
    first_bad = next(r for r in rows if r["mismatches"])
    assert first_bad["tensor"] == lay.output and "brevitas" in first_bad["first"]
