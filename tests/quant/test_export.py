"""QONNX export: qonnx executes it equal to Brevitas; unsupported graphs name the node."""
import numpy as np
import pytest
import torch
import brevitas.nn as qnn
from brevitas.quant.fixed_point import (Int8ActPerTensorFixedPoint, Int8WeightPerChannelFixedPoint,
                                        Uint8ActPerTensorFixedPoint)
from brevitas.quant.scaled_int import Int32Bias

from unetaccel.ir import IRError, reference as R
from unetaccel.quant.export import export_qonnx, load_clean, qonnx_to_ir
from unetaccel.quant.qmodel import BN_MUL_BITS, InputQuant, QuantBatchNorm2d, _bn

from qhelpers import random_qmodel


def test_qonnx_executes_equal_to_brevitas(tmp_path):
    from qonnx.core.onnx_exec import execute_onnx
    seed = 31
    print("seed", seed)
    q, imgs = random_qmodel((4, 8, 16), 5, (16, 24), seed)
    path = export_qonnx(q, tmp_path / "m.onnx", (16, 24))
    mw = load_clean(path)
    x = torch.from_numpy(imgs[:2]).float() / 256
    q.eval()
    with torch.no_grad():
        want = q(x).numpy()
    got = np.concatenate([execute_onnx(mw, {mw.graph.input[0].name: x[i:i + 1].numpy()})[mw.graph.output[0].name]
                          for i in range(len(x))])  # the exported graph has batch 1
    assert got.shape == want.shape
    assert np.array_equal(got, want)


class _Unsupported(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.inp = qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(3, 4, 3, padding=1, bias=False, weight_quant=Int8WeightPerChannelFixedPoint,
                                    weight_bit_width=5, return_quant_tensor=True,
                                    stride=2 if kind == "stride" else 1)
        self.relu = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)

    def forward(self, x):
        y = self.relu(self.conv(self.inp(x)))
        if self.kind == "avgpool":
            y = torch.nn.functional.avg_pool2d(y, 2, 2, 0, False, True, None)
        return getattr(y, "value", y)  # one graph output: a plain tensor


@pytest.mark.parametrize("kind,match", [("avgpool", r"ONNX node '.*'"), ("stride", r"ONNX node 'Conv_0' \(Conv\): only stride-1")])
def test_unsupported_patterns_name_the_node(kind, match, tmp_path):
    seed = 52
    print("seed", seed)
    torch.manual_seed(seed)
    m = _Unsupported(kind)
    m.train()
    with torch.no_grad():
        m(torch.rand(2, 3, 8, 8))
    m.eval()
    path = export_qonnx(m, tmp_path / "u.onnx", (8, 8))
    with pytest.raises(IRError, match=match):
        qonnx_to_ir(path)


class _ConvReluSigned(torch.nn.Module):
    """A user's model: Conv(bias) -> Relu -> signed int8 Quant (the Relu must not be lost:
    a signed quantizer alone would keep the negative values)."""

    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(3, 4, 3, padding=1, bias=True, weight_quant=Int8WeightPerChannelFixedPoint,
                                    weight_bit_width=5, bias_quant=Int32Bias, return_quant_tensor=True)
        self.q = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)

    def forward(self, x):
        return self.q(torch.relu(self.conv(self.inp(x)))).value


def _calibrated(m, seed, size=(8, 8)):
    torch.manual_seed(seed)
    m.train()
    with torch.no_grad():
        m(torch.rand(4, 3, *size))
    return m.eval()


def test_relu_before_a_signed_quant_is_kept(tmp_path):
    seed = 0
    print("seed", seed)
    m = _calibrated(_ConvReluSigned(), seed)
    ir = qonnx_to_ir(export_qonnx(m, tmp_path / "rs.onnx", (8, 8)))
    head = ir.layers[0]
    assert head.op == "conv2d" and ir.tensors[head.output].type.signed
    assert (head.attrs["lo"], head.attrs["hi"]) == (0, 127)
    x = np.random.default_rng(seed).integers(0, 256, (4, 3, 8, 8), dtype=np.uint8)
    scale = 2.0 ** -ir.tensors[ir.logits].type.f
    xf = torch.from_numpy(x).float() / 256
    with torch.no_grad():
        want = np.rint(m(xf).numpy() / scale).astype(np.int64)
        no_relu = m.q(m.conv(m.inp(xf))).value.numpy()
    assert (no_relu < 0).mean() > 0.1  # without the Relu many codes would be negative: not vacuous
    got = R.run(ir, x).logits
    assert np.array_equal(got, want)


class _ConvBN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)
        self.conv = qnn.QuantConv2d(3, 4, 3, padding=1, bias=False, weight_quant=Int8WeightPerChannelFixedPoint,
                                    weight_bit_width=5, return_quant_tensor=True)
        self.bn = _bn(4)
        self.q = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.head = qnn.QuantConv2d(4, 2, 1, bias=True, weight_quant=Int8WeightPerChannelFixedPoint,
                                    weight_bit_width=5, bias_quant=Int32Bias, return_quant_tensor=True)
        self.out = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)

    def forward(self, x):
        return self.out(self.head(self.q(self.bn(self.conv(self.inp(x)))))).value


@pytest.mark.parametrize("before", ["Mul", "Add"])
def test_relu_inside_the_batchnorm_pattern_is_refused(before, tmp_path):
    """A Relu between the conv and the BatchNorm multiply, or between the multiply and its add,
    would be dropped silently by a pattern matcher that only remembers 'relu': refused instead."""
    from onnx import helper
    seed = 3
    print("seed", seed)
    mw = load_clean(export_qonnx(_calibrated(_ConvBN(), seed), tmp_path / "cb.onnx", (8, 8)))
    assert qonnx_to_ir(mw).layers[1].op == "batchnorm"  # the unmodified graph maps
    g = mw.graph
    idx, node = next((i, n) for i, n in enumerate(g.node) if n.op_type == before)
    src = node.input[0]
    g.node.insert(idx, helper.make_node("Relu", [src], [src + "_relu"], name="planted_relu"))
    node.input[0] = src + "_relu"
    with pytest.raises(IRError, match=r"ONNX node '.*' \((Mul|Relu)\): .*ReLU"):
        qonnx_to_ir(mw)


def test_bn_multiplier_never_wraps():
    """The original design stored gamma in 5 bits and 1.006 wrapped to -1.0. qmodel's BatchNorm
    multiplier is 8-bit signed with a power-of-two scale per channel, the smallest scale whose
    127 covers the channel's value (Brevitas' fixed-point rule: scale = 2^ceil(log2(|m| / 127))):
    1.006 becomes 64 * 2^-6 = 1.0, positive and 0.6% off, as the README says."""
    gammas = np.array([1.006, 0.03, 25.0, -1.006])
    bn = _bn(len(gammas))
    assert isinstance(bn, QuantBatchNorm2d)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gammas))
    qw = bn.quant_weight()
    ints = qw.int().numpy().astype(np.int64).ravel()
    scale = qw.scale.detach().numpy().astype(np.float64).ravel()
    want_scale = 2.0 ** np.ceil(np.log2(np.abs(gammas) / 127))
    assert np.array_equal(scale, want_scale)
    assert np.array_equal(ints, np.rint(gammas / want_scale).astype(np.int64))
    assert ints[0] == 64 and scale[0] == 2.0 ** -6  # the README's example
    assert np.all(np.abs(ints) <= 2 ** (BN_MUL_BITS - 1) - 1)
    vals = ints * scale
    assert np.all(np.sign(vals) == np.sign(gammas))  # never wrapped
    assert np.all(np.abs(vals - gammas) / np.abs(gammas) < 0.01)
