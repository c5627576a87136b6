"""Shared RTL configurations: each is generated and built once per session (docs/development.md), by
whichever pytest-xdist worker needs it first; the build folder's lock (codegen.cache.locked)
makes the workers take turns on it."""
import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.ir import randnet

SEED = 77


def _small_network(folder):
    irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED), folder / "run" / "model")


@pytest.fixture(scope="session")
def small(shared):
    """A small random-weight network (widths 4, 8; 3 classes; 8x8) and three random images;
    the protocol and unit tests share its build folder (at 8x8 lanes: tests that switch lanes
    use a folder of their own)."""
    print("seed", SEED)
    d = shared("rtl_small", _small_network)
    imgs = np.random.default_rng(SEED).integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    return d / "run" / "model.json", d / "build", imgs
