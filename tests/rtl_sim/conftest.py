"""Shared RTL configurations: each is generated and built once per session (DESIGN.md 6b)."""
import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.ir import randnet

SEED = 77


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    """A small random-weight network (widths 4, 8; 3 classes; 8x8) and three random images;
    the protocol and unit tests share its build folder."""
    print("seed", SEED)
    d = tmp_path_factory.mktemp("rtl_small")
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    p = irmod.save(net, d / "run" / "model")
    imgs = np.random.default_rng(SEED).integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    return p, d / "build", imgs
