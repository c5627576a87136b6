"""The PYNQ driver of the UNet accelerator (docs/pynq.md): NumPy and `pynq` only, never torch.

    from unetaccel.pynq import UnetOverlay
    ol = UnetOverlay("unet.bit")            # unet.hwh and unet_accel.json beside it
    classes = ol.infer(picture)             # H x W x 3 uint8, any size (tiled)

`pynq` is imported when UnetOverlay or UnetAccel is first used, so this package (and every module
in it) imports off the board. `python -m unetaccel.pynq validate --bit unet.bit --val val.npz`
scores a validation set on the board.
"""
from .config import Deployment, load_deployment  # noqa: F401
from .errors import (AcceleratorError, AcceleratorTimeout, DeploymentError, DmaError, LoadRefused,  # noqa: F401
                     RunError, StatusError)

__all__ = ["UnetOverlay", "UnetAccel", "Deployment", "load_deployment", "AcceleratorError", "AcceleratorTimeout",
           "DeploymentError", "DmaError", "LoadRefused", "RunError", "StatusError"]


def __getattr__(name: str):
    if name in ("UnetOverlay", "UnetAccel"):
        from . import driver
        return getattr(driver, name)
    raise AttributeError(f"module 'unetaccel.pynq' has no attribute {name!r}")
