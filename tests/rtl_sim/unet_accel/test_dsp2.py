"""The packed multipliers (`--mult dsp2`: two output lanes' products in one multiplier, split at
the adder tree's root) under cocotb + Verilator, bit for bit against the NumPy reference: whole
network and every layer alone, a square and a non-square lane shape, and a network whose sums
are mostly negative (the low field borrows from the high one)."""
import subprocess
import sys

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.ir import randnet
from unetaccel.ir.data import save_val
from unetaccel.rtl_sim.runner import SOURCES, simulate
from unetaccel.tools import ensure_verilator_on_path

SEED = 91


def _exact_everywhere(p, imgs, build, lanes):
    """The whole network on every image, then every layer alone on the first; returns the cycles."""
    res = simulate(p, imgs, build, lanes=lanes, mult="dsp2")
    assert len(res["images"]) == len(imgs)
    for r in res["images"]:
        assert r["mismatches"] == 0 and r["error"] == 0 and r["cycles"] > 0, r
    one = simulate(p, imgs[:1], build, lanes=lanes, mult="dsp2", testcase="test_single_layer")
    layers = one["images"][0]["layers"]
    assert layers and all(x["mismatches"] == 0 and x["error"] == 0 for x in layers), layers
    assert (build / "rtl" / ".generated.json").read_text().count('"mult": "dsp2"') == 1
    return res["images"][0]["cycles"]


def test_dsp2_is_exact_at_16x16(tmp_path):
    """16x16 (the shape dsp2 is for: 128 multipliers, an even log2(PIN), eight lane pairs) on a
    network with odd channel counts (padding lanes, a concat that does not fill its group)."""
    print("seed", SEED)
    net = randnet.random_unet(widths=(3, 5, 18), num_classes=7, size=(8, 12), seed=SEED)
    p = irmod.save(net, tmp_path / "run" / "model")
    imgs = np.random.default_rng(SEED).integers(0, 256, (2, 3, 8, 12), dtype=np.uint8)
    print("cycles", _exact_everywhere(p, imgs, tmp_path / "build", (16, 16)))


def test_dsp2_borrow_on_a_negative_network_at_8x2(tmp_path):
    """8x2 (non-square: one lane pair, an odd log2(PIN)) on a network whose weights lean negative
    (randnet negative_weights), so most sums the low field carries are negative and the high
    lane's field gives a borrow back at the split; generated and simulated through the CLI
    (rtlsim keeps the multipliers generate used), then every layer alone."""
    seed = SEED + 1
    print("seed", seed)
    net = randnet.random_unet(widths=(3, 5, 18), num_classes=7, size=(8, 12), seed=seed, negative_weights=True)
    p = irmod.save(net, tmp_path / "run" / "model")
    imgs = np.random.default_rng(seed).integers(0, 256, (2, 3, 8, 12), dtype=np.uint8)
    imgs[1] = 255  # the largest codes: the largest low-field sums
    ref = irmod.reference.run(net, imgs, trace=True)
    for lay in net.layers:
        if lay.op == "conv2d" and lay.output != net.logits:  # lane 2k of a pair: an even channel
            acc = np.asarray(ref.trace[lay.output])[:, 0::2]
            assert (acc < 0).mean() > 0.5, (lay.name, (acc < 0).mean())
    save_val(tmp_path / "run" / "val.npz", imgs, np.zeros((2, 8, 12), np.int64))
    run = [sys.executable, "-m", "unetaccel.cli"]
    r = subprocess.run([*run, "generate", "--ir", p, "--lanes", "8x2", "--mult", "dsp2", "--out", tmp_path / "build"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*run, "rtlsim", "--ir", p, "--build", tmp_path / "build", "--images", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])
    assert "lanes: 8x2, multipliers: dsp2" in r.stdout and r.stdout.strip().splitlines()[-1] == "mismatches: 0"
    _exact_everywhere(p, imgs, tmp_path / "build", (8, 2))


@pytest.mark.parametrize("lanes", [(2, 2), (32, 4)])
def test_dsp2_rtl_is_lint_clean(tmp_path, lanes):
    """The packed datapath at the smallest PIN (a one-level tree narrower than the 18-bit field)
    and the largest (PIN 32, the bound's edge at 5-bit weights): Verilator -Wall finds nothing."""
    net = randnet.random_unet(widths=(3, 5, 18), num_classes=7, size=(8, 12), seed=SEED)
    generate_rtl(net, tmp_path, lanes=lanes, mult="dsp2")
    d = ensure_verilator_on_path()
    r = subprocess.run([str(d / "verilator"), "--lint-only", "-Wall", *SOURCES, "--top-module", "tb_unet"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]
