"""The residual `add` op (added through the op registry) at every rung: the reference equals
naive integer loops (tests/ir/test_reference.py), and here the C simulation and the RTL equal
the reference at every layer output on random residual networks that are not the default size,
at square and non-square lanes."""
import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.hls import csim
from unetaccel.ir import randnet
from unetaccel.rtl_sim.runner import simulate

SEED = 31


@pytest.fixture(scope="module")
def residual_run(tmp_path_factory):
    """A random residual network (widths 6, 12: channel counts that fill no lane group; 5 classes;
    8x16) saved with random validation images."""
    print("seed", SEED)
    d = tmp_path_factory.mktemp("residual")
    net = randnet.random_unet(widths=(6, 12), num_classes=5, size=(8, 16), seed=SEED, residual=True)
    assert [lay.op for lay in net.layers].count("add") == 2
    p = irmod.save(net, d / "run" / "model")
    imgs = np.random.default_rng(SEED).integers(0, 256, (3, 3, 8, 16), dtype=np.uint8)
    return p, d, imgs


@pytest.mark.parametrize("lanes", [(8, 8), (4, 16)])
def test_csim_exact_at_every_layer(residual_run, lanes):
    p, d, _ = residual_run
    reports = csim.run(p, d / f"build_{lanes[0]}x{lanes[1]}", images=3, lanes=lanes, random_images=True,
                       seed=SEED, log=lambda *a: None)
    net = irmod.load(p)
    for rep in reports:
        assert rep.mismatches == 0, {k: v for k, v in rep.tensors.items() if v[1]}
        for lay in net.layers:
            if lay.op == "concat":
                continue  # a concat is two sources of the conv that reads it (no tensor of its own)
            ok, bad, _ = rep.tensors[lay.output]
            assert ok > 0 and bad == 0, (rep.mode, lay.name)


def test_rtl_exact_at_every_layer_4x16(residual_run):
    """Single-layer mode runs each table row (the adds included) from the registers and compares
    its output tensor; whole-network mode compares the class map and the logits."""
    p, d, imgs = residual_run
    build = d / "build_rtl"
    res = simulate(p, imgs[:2], build, lanes=(4, 16), testcase="test_single_layer", log=lambda *a: None)
    net = irmod.load(p)
    steps = [lay for lay in net.layers if lay.op not in ("batchnorm", "concat")]
    for im in res["images"]:
        assert len(im["layers"]) == len(steps)
        bad = [x for x in im["layers"] if x["mismatches"] or x["error"]]
        assert not bad, bad
    for logits in (False, True):
        whole = simulate(p, imgs, build, lanes=(4, 16), logits=logits, log=lambda *a: None)
        assert [r["mismatches"] for r in whole["images"]] == [0, 0, 0]
        assert all(r["error"] == 0 for r in whole["images"])
