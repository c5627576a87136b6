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
    k = np.arange(1, len(shift) + 1) + np.arange(len(shift)) % 2  # mixes odd and even k
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
    assert np.all(out[acc == 0] % 2 == 0) or np.any(out == 255)
    assert np.array_equal(out[0, :, 0, 0], np.minimum(k + (k % 2), 255))  # half to even, not half up
    mism, rows = compare(q, ir, imgs)
    assert mism == 0, [r for r in rows if r["mismatches"]]


def test_brevitas_trace_matches_its_own_output():
    q, imgs = random_qmodel((4, 8), 3, (8, 8), 5)
    tr = brevitas_trace(q, imgs[:2])
    q.eval()
    with torch.no_grad():
        out = q(torch.from_numpy(imgs[:2]).float() / 256)
    assert torch.equal(out.argmax(1), torch.from_numpy(tr[-1][1]).argmax(1))


def test_compare_reports_a_single_wrong_value(tmp_path):
    """The Brevitas-vs-reference check is not vacuous: one changed shift is caught and located."""
    from unetaccel.ir.model import make_ir
    q, imgs = random_qmodel((4, 8), 3, (8, 8), 41)
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
