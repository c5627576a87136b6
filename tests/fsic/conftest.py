"""FSIC fixtures: the checkout (FSIC_FPGA_ROOT; the FSIC tests are skipped, with that reason in
pytest's summary, when it is unset: .ci/run sets it) and the subsystem built once per session for
a small random network that is not the default size."""
import os

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.fsic import system
from unetaccel.ir import randnet

SEED = 12
SIZE = (8, 12)


@pytest.fixture(scope="session")
def fsic_root():
    if not os.environ.get(system.ENV):
        pytest.skip(f"{system.ENV} is not set: {system.HOW_TO_GET} (.ci/run sets it)")
    return system.fsic_root()


def _small(folder):
    irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=SIZE, seed=SEED), folder / "run" / "model")


@pytest.fixture(scope="session")
def fsic_small(shared, fsic_root):
    """A small random-weight network (widths 4, 8; 3 classes; 8x12, not the default size), its
    build folder and three random images."""
    print("seed", SEED)
    d = shared("fsic_small", _small)
    imgs = np.random.default_rng(SEED).integers(0, 256, (3, 3, *SIZE), dtype=np.uint8)
    return d / "run" / "model.json", d / "build", imgs


@pytest.fixture(scope="session")
def subsystem(fsic_small):
    """FSIC's subsystem with our USER_PRJ0 for the small network, under Icarus (four-state)."""
    ir_path, build, _ = fsic_small
    return system.Subsystem(ir_path, build, simulator="icarus")
