"""The small network of tests/rtl_sim (widths 4, 8; 3 classes; 8x8), its RTL with the IP top and its
BUILD/pynq, made once per session and shared (one Verilator build of unet_accel_ip)."""
from pathlib import Path

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.ir import randnet

SEED = 77


def _make(folder: Path):
    from unetaccel.codegen.pynq_project import generate_pynq
    from unetaccel.rtl_sim.runner import ensure_rtl
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    ir = folder / "run" / "model.json"
    irmod.save(net, ir.with_suffix(""))
    # another network of the same shapes (other weights): load_weights' test
    irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED + 1), folder / "other" / "model")
    ensure_rtl(ir, folder / "build")
    generate_pynq(net, folder / "build" / "pynq")  # pynqsim rewrites what changed


@pytest.fixture(scope="session")
def pynq_small(shared):
    """(RUN/model.json, BUILD, another IR of the same shapes, three random images)."""
    print("seed", SEED)
    d = shared("pynq_small", _make)
    imgs = np.random.default_rng(SEED).integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    return d / "run" / "model.json", d / "build", d / "other" / "model.json", imgs
