"""The Brevitas W5A8 version of any UNet that unetaccel.model builds.

- Weights: 5-bit signed narrow range [-15, 15], power-of-two scale per output channel
  (brevitas.quant.fixed_point.Int8WeightPerChannelFixedPoint with bit_width 5).
- Activations: 8-bit unsigned, one power-of-two scale per tensor
  (Uint8ActPerTensorFixedPoint, learned, initialised from statistics).
- Input: the uint8 image at f = 8 (a constant 2^-8 scale; the float input is pixel / 256).
- BatchNorm: its own per-channel multiply-add with inference semantics
  (BatchNorm2dToQuantScaleBias, the float running statistics folded in), multiplier
  8-bit signed with a power-of-two scale per channel, the smallest whose 127 covers the
  channel's value (scale = 2^ceil(log2(|m| / 127))): a gamma of 1.006 becomes 64 * 2^-6 = 1.0,
  0.6% low, never wrapped; bias Int32Bias at the scale of acc * multiplier.
- Each decoder's transposed conv output is requantized by the skip tensor's own
  QuantReLU module: both concat inputs share one scale.
- Logits: the final 1x1 conv (bias Int32Bias) requantized to int8 at a learned power-of-two scale.
- One rounding rule: round half to even (torch.round), what the integer reference does.
"""
from __future__ import annotations

import brevitas.nn as qnn
import torch
import torch.nn.functional as F
from brevitas.quant.fixed_point import (Int8ActPerTensorFixedPoint, Int8WeightPerChannelFixedPoint,
                                        Uint8ActPerTensorFixedPoint)
from brevitas.quant.scaled_int import Int32Bias
from brevitas.quant_tensor import QuantTensor
from torch import nn

from ..model.unet import UNet, UNetConfig, block_trace, recorder

WEIGHT_BITS = 5
ACT_BITS = 8
BN_MUL_BITS = 8


class InputQuant(Uint8ActPerTensorFixedPoint):
    """uint8 image at scale 2^-8: a constant threshold of 1.0 over 2^8 levels."""

    scaling_impl_type = "const"
    max_val = 1.0


def _conv(cin, cout, k, bias=False, weight_bits=WEIGHT_BITS):
    kw = dict(bias_quant=Int32Bias) if bias else {}
    return qnn.QuantConv2d(cin, cout, k, padding=(k - 1) // 2, bias=bias,
                           weight_quant=Int8WeightPerChannelFixedPoint, weight_bit_width=weight_bits,
                           return_quant_tensor=True, **kw)


def _view_qt(t, shape):
    """Reshape a (quant) tensor, its per-channel scale and zero point included.

    brevitas 0.13.4's QuantTensor.view reshapes only the value, so a per-channel
    BatchNorm multiplier keeps a (C,) scale that broadcasts wrongly against the
    (1, C, 1, 1) accumulator scale (eval mode then fails 'Scaling factors are different'
    as soon as channel scales differ)."""
    if t is None or not isinstance(t, QuantTensor):
        return None if t is None else t.view(shape)
    scale = t.scale.view(shape) if t.scale.numel() > 1 else t.scale
    zp = t.zero_point.view(shape) if t.zero_point.numel() > 1 else t.zero_point
    return t.set(value=t.value.view(shape), scale=scale, zero_point=zp)


class QuantBatchNorm2d(qnn.BatchNorm2dToQuantScaleBias):
    """Inference BatchNorm as a quantized per-channel multiply-add: y = acc * m[c] + b[c]."""

    def inner_forward_impl(self, input, quant_weight, quant_bias):
        out = input * _view_qt(quant_weight, self.runtime_shape)
        if quant_bias is not None:
            out = out + _view_qt(quant_bias, self.runtime_shape)
        return out


def _bn(c):
    return QuantBatchNorm2d(c, weight_quant=Int8WeightPerChannelFixedPoint, weight_bit_width=BN_MUL_BITS,
                            bias_quant=Int32Bias, return_quant_tensor=True)


def _relu(act_bits=ACT_BITS):
    return qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=act_bits, return_quant_tensor=True)


class QuantConvBlock(nn.Sequential):
    """conv -> bn -> relu -> conv -> bn -> relu; module indices match unetaccel.model.ConvBlock
    so a float state dict loads directly (BatchNorm statistics are folded on load)."""

    def __init__(self, cin, cout, weight_bits=WEIGHT_BITS, act_bits=ACT_BITS):
        super().__init__(_conv(cin, cout, 3, weight_bits=weight_bits), _bn(cout), _relu(act_bits),
                         _conv(cout, cout, 3, weight_bits=weight_bits), _bn(cout), _relu(act_bits))

    @property
    def out_quant(self) -> qnn.QuantReLU:
        return self[5]


class QuantUNet(nn.Module):
    """W5A8 UNet with the same module names as the float UNet."""

    def __init__(self, config: UNetConfig, weight_bits=WEIGHT_BITS, act_bits=ACT_BITS):
        super().__init__()
        self.config = config
        self.weight_bits = weight_bits
        self.act_bits = act_bits
        w = config.widths
        self.input_quant = qnn.QuantIdentity(act_quant=InputQuant, return_quant_tensor=True)
        self.encoders = nn.ModuleList()
        cin = config.in_channels
        for c in w[:-1]:
            self.encoders.append(QuantConvBlock(cin, c, weight_bits, act_bits))
            cin = c
        self.bottleneck = QuantConvBlock(w[-2], w[-1], weight_bits, act_bits)
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for i in range(len(w) - 2, -1, -1):
            self.ups.append(qnn.QuantConvTranspose2d(w[i + 1], w[i], 2, stride=2, bias=False,
                                                     weight_quant=Int8WeightPerChannelFixedPoint,
                                                     weight_bit_width=weight_bits, return_quant_tensor=True))
            self.decoders.append(QuantConvBlock(2 * w[i], w[i], weight_bits, act_bits))
        self.head = _conv(w[0], config.num_classes, 1, bias=True, weight_bits=weight_bits)
        self.head_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=act_bits,
                                            return_quant_tensor=True)

    def forward(self, x, trace: list | None = None):
        """x: float N x C x H x W (pixel / 256). With a list as `trace`, appends
        (op, QuantTensor) for every IR tensor in IR order: the input, each conv
        accumulator, each requantized output, pools, upsamplings, concats, logits."""
        rec = recorder(trace)

        def block(blk, x):
            return block_trace(blk, x, rec)

        x = rec("input", self.input_quant(x))
        skips = []
        for enc in self.encoders:
            x = block(enc, x)
            skips.append((x, enc.out_quant))
            x = rec("maxpool2d", F.max_pool2d(x, 2))
        x = block(self.bottleneck, x)
        for up, dec, (skip, skip_quant) in zip(self.ups, self.decoders, reversed(skips)):
            u = rec("conv_transpose2d", skip_quant(up(x)))  # the skip's own quantizer: one shared scale
            x = block(dec, rec("concat", torch.cat([u, skip], dim=1)))
        logits = rec("conv2d", self.head_quant(self.head(x)))
        return getattr(logits, "value", logits)  # dequantized logits (plain tensor: one graph output on export)


def from_float(model: UNet, weight_bits=WEIGHT_BITS, act_bits=ACT_BITS) -> QuantUNet:
    """A QuantUNet initialised from a float UNet: weights copied, BatchNorm running
    statistics folded into the quantized scale and bias (inference semantics)."""
    q = QuantUNet(model.config, weight_bits, act_bits)
    qmods = dict(q.named_modules())
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
                target = qmods.get(name)
                if target is None or target.weight.shape != mod.weight.shape:
                    raise ValueError(f"float layer '{name}' {tuple(mod.weight.shape)} has no match in the quantized UNet")
                target.weight.copy_(mod.weight)
                if mod.bias is not None:
                    target.bias.copy_(mod.bias)
            elif isinstance(mod, nn.BatchNorm2d):
                target = qmods[name]
                mul = mod.weight / torch.sqrt(mod.running_var + mod.eps)
                target.weight.copy_(mul)
                target.bias.copy_(mod.bias - mod.running_mean * mul)
    return q
