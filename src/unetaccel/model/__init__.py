"""Float UNet, datasets, losses, metrics and the training loop."""
from .unet import UNet, UNetConfig, count_macs, count_parameters, total_macs  # noqa: F401


def get_dataset(*args, **kwargs):
    """See :func:`unetaccel.model.datasets.get_dataset`."""
    from .datasets import get_dataset as _get

    return _get(*args, **kwargs)
