"""The accelerator top (tb_unet, testbench unetaccel.rtl_sim.tb_accel) under Icarus Verilog, a
four-state simulator: a bit that is never written (the memories start as X there, except what
$readmemh loads) and reaches an output stream fails the run, where Verilator's two-state
simulation reads it as 0. Whole network in both output modes, and single-layer mode loading its
source and storing every layer, each exact against the NumPy reference. Icarus runs about 8k
cycles/s: the small network (conftest.py) on one image each.
"""
import pytest

from unetaccel import ir as irmod
from unetaccel.rtl_sim.runner import RtlSimError, simulate

SEED = 77  # the seed of the `small` fixture (conftest.py)


def _exact(res):
    assert len(res["images"]) == 1
    r = res["images"][0]
    assert r["mismatches"] == 0 and r["error"] == 0 and r["cycles"] > 0, r
    assert res["failures"] == [], res["failures"]


def test_whole_network_class_map_under_icarus(small):
    p, build, imgs = small
    print("seed", SEED)
    _exact(simulate(p, imgs[:1], build, simulator="icarus"))


def test_whole_network_logits_under_icarus(small):
    """MODE bit 1: the logits stream, whose tensor fills 3 of the 8 lanes of its words."""
    p, build, imgs = small
    print("seed", SEED)
    _exact(simulate(p, imgs[:1], build, logits=True, simulator="icarus"))


def test_single_layer_mode_under_icarus(small):
    """Every layer-table row alone from the registers (MODE load on the first, store on each):
    every layer's stored output is exact."""
    p, build, imgs = small
    print("seed", SEED)
    res = simulate(p, imgs[:1], build, testcase="test_single_layer", simulator="icarus")
    layers = res["images"][0]["layers"]
    net = irmod.load(p)
    assert len(layers) == len(net.layers) - sum(lay.op in ("batchnorm", "concat") for lay in net.layers)
    bad = [x for x in layers if x["mismatches"] or x["error"]]
    assert not bad and res["failures"] == [], (bad, res["failures"])


def test_narrow_output_lanes_under_icarus(small, tmp_path):
    """At 8x2 lanes a word holds 8 channels but a write stores 2: the lanes above a tensor's last
    output group (3 classes: lanes 4-7 of the logits' words) are written by no group. Logits
    stream and every layer alone, exact, in a build folder of its own."""
    p, _, imgs = small
    print("seed", SEED)
    build = tmp_path / "build"
    _exact(simulate(p, imgs[:1], build, lanes=(8, 2), logits=True, simulator="icarus"))
    res = simulate(p, imgs[:1], build, lanes=(8, 2), testcase="test_single_layer", simulator="icarus")
    assert res["images"][0]["mismatches"] == 0 and res["failures"] == [], res


def test_unknown_simulator_is_refused_by_name(small):
    p, build, imgs = small
    with pytest.raises(RtlSimError, match="'questa'.*verilator or icarus"):
        simulate(p, imgs[:1], build, simulator="questa")
