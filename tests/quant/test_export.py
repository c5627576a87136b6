"""QONNX export: qonnx executes it equal to Brevitas; unsupported graphs name the node."""
import numpy as np
import pytest
import torch
import brevitas.nn as qnn
from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint, Uint8ActPerTensorFixedPoint

from unetaccel.ir import IRError
from unetaccel.quant.export import export_qonnx, load_clean, qonnx_to_ir
from unetaccel.quant.qmodel import BN_MUL_BITS, InputQuant

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
    m = _Unsupported(kind)
    m.train()
    with torch.no_grad():
        m(torch.rand(2, 3, 8, 8))
    m.eval()
    path = export_qonnx(m, tmp_path / "u.onnx", (8, 8))
    with pytest.raises(IRError, match=match):
        qonnx_to_ir(path)


def test_bn_multiplier_never_wraps():
    """The original design stored gamma in 5 bits and 1.006 wrapped to -1.0: our 8-bit
    per-channel power-of-two multiplier keeps it positive and close."""
    bn = qnn.BatchNorm2dToQuantScaleBias(3, weight_quant=Int8WeightPerChannelFixedPoint,
                                         weight_bit_width=BN_MUL_BITS)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.006, 0.03, 25.0]))
    qw = bn.quant_weight()
    vals = qw.value.detach().numpy()
    assert np.all(vals > 0)
    assert np.all(np.abs(vals - [1.006, 0.03, 25.0]) / [1.006, 0.03, 25.0] < 0.02)
    assert np.all(np.abs(qw.int().numpy()) <= 127)
