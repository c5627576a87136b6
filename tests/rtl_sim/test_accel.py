"""The generated RTL accelerator under cocotb + Verilator: bit for bit against the NumPy reference.

Each configuration (network + lanes) is generated and built once per session; protocol
tests run on a small network, the full default network on one image (DESIGN.md 6b).
"""
import subprocess

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.ir import synth
from unetaccel.rtl_sim.runner import SOURCES, simulate
from unetaccel.tools import ensure_verilator_on_path

SEED = 77


@pytest.fixture(scope="session")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("rtl_small")
    net = synth.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    p = irmod.save(net, d / "run" / "model")
    imgs = np.random.default_rng(SEED).integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    return p, d / "build", imgs


def _exact(res, n):
    assert len(res["images"]) == n
    for r in res["images"]:
        assert r["mismatches"] == 0, r
        assert r["error"] == 0 and r["cycles"] > 0
    return res


def test_small_network_back_to_back(small):
    p, build, imgs = small
    print("seed", SEED)
    res = _exact(simulate(p, imgs, build), 3)
    assert res["id"] == 0x554E4554  # "UNET"
    net = irmod.load(p)
    fused = sum(lay.op in ("batchnorm", "concat") for lay in net.layers)  # conv+BN fused, concat free
    assert res["num_layers"] == len(net.layers) - fused
    _exact(simulate(p, imgs[:2], build, logits=True), 2)


@pytest.mark.parametrize("pause", ["idle", "bp", "idle,bp"])
def test_stream_grid(small, pause):
    """{idle, no idle} x {backpressure, none} (the no-pause corner is the test above)."""
    p, build, imgs = small
    _exact(simulate(p, imgs[:2], build, pause=pause), 2)


@pytest.mark.parametrize("testcase", ["test_bad_register_values", "test_start_while_busy_and_early_tlast",
                                      "test_reset_mid_run"])
def test_protocol(small, testcase):
    p, build, imgs = small
    res = simulate(p, imgs[:1], build, testcase=testcase)
    assert res["failures"] == [], res["failures"]


def test_non_default_network_with_saturation(tmp_path):
    seed = SEED + 1
    print("seed", seed)
    net = synth.random_unet(widths=(4, 8, 16), num_classes=5, size=(32, 48), seed=seed, saturate=True)
    p = irmod.save(net, tmp_path / "run" / "model")
    imgs = np.random.default_rng(seed).integers(0, 256, (1, 3, 32, 48), dtype=np.uint8)
    ref = irmod.reference.run(net, imgs, trace=True)
    assert (ref.trace[net.layers[1].output] == 255).any()  # saturation is exercised
    _exact(simulate(p, imgs, tmp_path / "build"), 1)


def test_trained_default_network_one_image(trained_ir_path, tmp_path_factory):
    from unetaccel.ir.data import load_val
    net = irmod.load(trained_ir_path)
    imgs, _ = load_val(trained_ir_path, net, 1)
    res = _exact(simulate(trained_ir_path, imgs, tmp_path_factory.mktemp("rtl_default")), 1)
    print("cycles", res["images"][0]["cycles"], "seconds", res["seconds"])


def test_generated_rtl_is_lint_clean_and_deterministic(tmp_path):
    net = synth.random_unet(seed=3)  # the default size
    a = generate_rtl(net, tmp_path / "a")
    b = generate_rtl(irmod.load(irmod.save(net, tmp_path / "m")), tmp_path / "b")
    for fa, fb in zip(a, b):
        assert fa.read_bytes() == fb.read_bytes(), fa.name
    d = ensure_verilator_on_path()
    r = subprocess.run([str(d / "verilator"), "--lint-only", "-Wall", *SOURCES, "--top-module", "tb_unet"],
                       cwd=tmp_path / "a", capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]
