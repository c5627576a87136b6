"""The float UNet of the original design, configurable in widths, levels, classes and input size."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..errors import UnetaccelError

DEFAULT_WIDTHS = (8, 16, 32, 64, 128)


class UNetConfigError(UnetaccelError, ValueError):
    """A UNet configuration that cannot be built (widths, classes, input size)."""


@dataclass(frozen=True)
class UNetConfig:
    """Everything needed to rebuild a UNet (stored inside every checkpoint)."""

    in_channels: int = 3
    num_classes: int = 21
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    size: tuple[int, int] = (64, 64)  # (H, W) of the input the network is compiled for

    def __post_init__(self):
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))
        if len(self.widths) < 2:
            raise UNetConfigError(f"widths {self.widths}: need at least one encoder level and a bottleneck")
        if any(w <= 0 for w in self.widths) or self.in_channels <= 0 or self.num_classes < 2:
            raise UNetConfigError(f"bad UNet config {self}")
        check_size(self.size, self.levels)

    @property
    def levels(self) -> int:
        """Number of 2x2 poolings (= encoder levels); the last width is the bottleneck."""
        return len(self.widths) - 1

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        d["size"] = list(self.size)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        return cls(in_channels=d["in_channels"], num_classes=d["num_classes"],
                   widths=tuple(d["widths"]), size=tuple(d["size"]))


def check_size(size, levels: int) -> None:
    h, w = size
    m = 2 ** levels
    if h <= 0 or w <= 0 or h % m or w % m:
        raise UNetConfigError(f"input size {h}x{w}: height and width must be positive multiples of 2^levels = {m}")


class ConvBlock(nn.Sequential):
    """2 x (3x3 conv, padding 1, no bias -> BatchNorm2d -> ReLU)."""

    def __init__(self, cin: int, cout: int):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """UNet: encoder widths[:-1] with 2x2 max pooling, bottleneck widths[-1],
    decoder ConvTranspose2d(k2, s2, no bias) -> concat(skip) -> ConvBlock, final 1x1 conv with bias.

    Input: float N x C x H x W, the uint8 image divided by 256 (no mean/std normalisation).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 21, widths=DEFAULT_WIDTHS,
                 size=(64, 64)):
        super().__init__()
        self.config = UNetConfig(in_channels, num_classes, tuple(widths), tuple(size))
        w = self.config.widths
        self.encoders = nn.ModuleList()
        cin = in_channels
        for c in w[:-1]:
            self.encoders.append(ConvBlock(cin, c))
            cin = c
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = ConvBlock(w[-2], w[-1])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for i in range(len(w) - 2, -1, -1):
            self.ups.append(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2, bias=False))
            self.decoders.append(ConvBlock(2 * w[i], w[i]))
        self.head = nn.Conv2d(w[0], num_classes, 1, bias=True)

    @classmethod
    def from_config(cls, cfg: UNetConfig) -> "UNet":
        return cls(cfg.in_channels, cfg.num_classes, cfg.widths, cfg.size)

    def forward(self, x: torch.Tensor, trace: list | None = None) -> torch.Tensor:
        """x: float N x C x H x W (pixel / 256). With a list as `trace`, appends (op, tensor) for
        every IR tensor in IR order, as the quantized model does (unetaccel.quant.qmodel): the
        input, each conv's output (the accumulator's real value), each BatchNorm + ReLU, pools,
        upsamplings, concats, the logits."""
        if trace is None:
            skips = []
            for enc in self.encoders:
                x = enc(x)
                skips.append(x)
                x = self.pool(x)
            x = self.bottleneck(x)
            for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
                x = dec(torch.cat([up(x), skip], dim=1))
            return self.head(x)

        rec = recorder(trace)

        def block(blk, x):
            return block_trace(blk, x, rec)

        x = rec("input", x)
        skips = []
        for enc in self.encoders:
            x = block(enc, x)
            skips.append(x)
            x = rec("maxpool2d", self.pool(x))
        x = block(self.bottleneck, x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = block(dec, rec("concat", torch.cat([rec("conv_transpose2d", up(x)), skip], dim=1)))
        return rec("conv2d", self.head(x))


def recorder(trace: list | None):
    """rec(kind, tensor): appends (kind, tensor) to `trace` (when it is a list) and returns the tensor;
    the float and the quantized UNets' traces of the IR tensors."""
    def rec(kind, t):
        if trace is not None:
            trace.append((kind, t))
        return t
    return rec


def block_trace(blk, x, rec):
    """A ConvBlock's two conv -> BatchNorm -> ReLU, each conv's output and each ReLU's recorded."""
    for i in (0, 3):
        acc = rec("conv2d", blk[i](x))
        x = rec("batchnorm", blk[i + 2](blk[i + 1](acc)))
    return x


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm running statistics are buffers and do not count)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class LayerMacs:
    name: str
    kind: str
    in_shape: tuple
    out_shape: tuple
    macs: int


def count_macs(model: nn.Module, size=None) -> list[LayerMacs]:
    """Real multiply-accumulates per layer for one image.

    conv: H_out*W_out*Cout*Cin*K*K; transposed conv k2 s2: Cin*Cout*4 per *input* pixel
    (each output pixel is one 1x1 product); BatchNorm, ReLU, pooling and concat cost no MAC.
    """
    cfg = model.config if hasattr(model, "config") else None
    h, w = size or (cfg.size if cfg else (64, 64))
    cin = cfg.in_channels if cfg else 3
    rows: list[LayerMacs] = []
    hooks = []

    def hook(name):
        def fn(mod, inp, out):
            x = inp[0]
            if isinstance(mod, nn.ConvTranspose2d):
                k = mod.kernel_size[0] * mod.kernel_size[1]
                macs = x.shape[2] * x.shape[3] * mod.in_channels * mod.out_channels * k
                kind = "conv_transpose2d"
            else:
                k = mod.kernel_size[0] * mod.kernel_size[1]
                macs = out.shape[2] * out.shape[3] * mod.in_channels * mod.out_channels * k // mod.groups
                kind = "conv2d"
            rows.append(LayerMacs(name, kind, tuple(x.shape[1:]), tuple(out.shape[1:]), int(macs)))
        return fn

    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            hooks.append(mod.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, cin, h, w))
    finally:
        for hk in hooks:
            hk.remove()
        model.train(was_training)
    return rows


def total_macs(model: nn.Module, size=None) -> int:
    return sum(r.macs for r in count_macs(model, size))
