"""Random-weight Brevitas UNets for the quantization tests."""
import torch

from unetaccel.model import UNet
from unetaccel.quant.job import calibrate
from unetaccel.quant.qmodel import from_float


def random_qmodel(widths, classes, size, seed, saturate=False):
    torch.manual_seed(seed)
    m = UNet(3, classes, widths, size)
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            c = mod.num_features
            mod.running_mean.copy_(torch.rand(c, generator=g) * 0.4 - 0.2)
            mod.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.3)
            mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            mod.bias.data.copy_(torch.rand(c, generator=g) - 0.5)
    m.eval()
    q = from_float(m)
    x = torch.randint(0, 256, (8, 3, *size), generator=g).to(torch.uint8)
    loader = [(x, None)]
    calibrate(q, loader, batches=1)
    if saturate:
        # shrink every activation scale (x 1/16): most requantizations then hit 255 or the int8 bounds
        with torch.no_grad():
            for name, p in q.named_parameters():
                if "scaling_impl" in name and "value" in name:
                    p.sub_(4.0 if p.numel() == 1 else 0.0)
    return q, x.numpy()
