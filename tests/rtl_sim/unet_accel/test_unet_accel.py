"""unet_accel, the accelerator top (tb_unet wrapping it), under cocotb + Verilator (testbench
unetaccel.rtl_sim.tb_accel): bit for bit against the NumPy reference.

Each configuration (network + lanes) is generated and built once per session; protocol
tests run on a small network, the full default network on one image (docs/development.md).
"""
import json
import subprocess

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.codegen.rtl_project import layout as rtl_layout
from unetaccel.ir import randnet
from unetaccel.rtl_sim.runner import SOURCES, RtlSimError, simulate
from unetaccel.tools import ensure_verilator_on_path

SEED = 77  # also the seed of the `small` fixture (conftest.py)


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


@pytest.mark.parametrize("testcase", ["test_bad_register_values", "test_start_while_busy_framing_and_abort",
                                      "test_reset_mid_run", "test_load_refused", "test_slow_input_stream"])
def test_protocol(small, testcase):
    p, build, imgs = small
    res = simulate(p, imgs[:1], build, testcase=testcase)
    assert res["failures"] == [], res["failures"]


def test_class_map_with_the_output_held_not_ready(tmp_path):
    """The fused argmax streams the class map out while the logits conv runs: with the output
    stream held not-ready for 500 cycles at a time (ready 8), far longer than its FIFO of 64
    class bytes lasts at a pixel a cycle, the conv's issue is held (cr_ok low) and the class map
    still comes out exact, twice back to back; 11 classes take two output groups."""
    seed = SEED + 11
    print("seed", seed)
    net = randnet.random_unet(widths=(4, 8), num_classes=11, size=(16, 16), seed=seed)
    p = irmod.save(net, tmp_path / "run" / "model")
    imgs = np.random.default_rng(seed).integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)
    res = _exact(simulate(p, imgs, tmp_path / "build", pause="hold"), 2)
    for r in res["images"]:
        assert r["held"] > 500, r["held"]  # the issue waited for the stream
    assert json.loads((tmp_path / "build" / "rtl" / "layout.json").read_text())["layers"][-2]["fuse"] == 1


def test_single_layer_mode_every_layer(small):
    """Each table row run alone from the registers; every layer's output equals the reference's."""
    p, build, imgs = small
    res = simulate(p, imgs[:2], build, testcase="test_single_layer")
    for im in res["images"]:
        bad = [x for x in im["layers"] if x["mismatches"] or x["error"]]
        assert not bad, bad
    assert len(res["images"][0]["layers"]) == len(irmod.load(p).layers) - sum(
        lay.op in ("batchnorm", "concat") for lay in irmod.load(p).layers)


def test_weights_reloaded_at_run_time(small, tmp_path):
    """The RTL generated for one network runs another of the same shapes after its parameters
    are written through WLOAD_ADDR / WLOAD_DATA; a different shape is refused."""
    p, build, imgs = small
    seed = SEED + 5
    print("seed", seed)
    other = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=seed)
    q = irmod.save(other, tmp_path / "other" / "model")
    a = irmod.reference.run(irmod.load(p), imgs[:2], layout="nchw")
    b = irmod.reference.run(other, imgs[:2], layout="nchw")
    assert (a.logits != b.logits).any()  # the reload is visible in the outputs
    res = _exact(simulate(p, imgs[:2], build, reload_ir=q, logits=True), 2)
    assert res["loaded_words"] > 0
    # the next session's RTL is freshly initialised from the .mem files again
    _exact(simulate(p, imgs[:1], build), 1)
    wrong = irmod.save(randnet.random_unet(widths=(4, 16), num_classes=3, size=(8, 8), seed=seed),
                       tmp_path / "wrong" / "model")
    with pytest.raises(RtlSimError, match="same shapes"):
        simulate(p, imgs[:1], build, reload_ir=wrong)


def _reloaded(tmp_path, seed, widths, lanes, wbits=5):
    """Two random networks of the same shapes: the RTL generated for the first runs an image
    exact after the second's parameters are written through the load path (their references
    differ, so the reload is visible). Returns the run and layout.json."""
    print("seed", seed)
    nets = [randnet.random_unet(widths=widths, num_classes=3, size=(8, 8), seed=seed + i, weight_bits=wbits)
            for i in range(2)]
    p, q = (irmod.save(n, tmp_path / f"net{i}" / "model") for i, n in enumerate(nets))
    imgs = np.random.default_rng(seed).integers(0, 256, (1, 3, 8, 8), dtype=np.uint8)
    a, b = (irmod.reference.run(n, imgs, layout="nchw") for n in nets)
    assert (a.logits != b.logits).any()  # the reload is visible in the outputs
    res = _exact(simulate(p, imgs, tmp_path / "build", lanes=lanes, reload_ir=q, logits=True), 1)
    return res, json.loads((tmp_path / "build" / "rtl" / "layout.json").read_text())


def test_weights_reloaded_at_32x32_lanes_8bit(tmp_path):
    """32x32 lanes of 8-bit weights: a weight word is 256 32-bit parts, a count the part
    counter and WEIGHT_PARTS must hold (an 8-bit WEIGHT_PARTS read 0 and broke the load path).
    Another network's parameters written through the load path run exact."""
    res, layout = _reloaded(tmp_path, SEED + 32, (4, 8), (32, 32), wbits=8)
    assert layout["weight_parts"] == 256 and layout["weight_bits"] == 8
    assert res["loaded_words"] > 256


def test_weights_reloaded_across_weight_banks(tmp_path):
    """A weight memory of two banks (rtl_project.W_BANK_WORDS each, at 2x2 lanes): another
    network's weights written through the load path land in the bank their index names, and the
    image runs exact from both banks."""
    res, layout = _reloaded(tmp_path, SEED + 22, (4, 8, 16), (2, 2))
    assert len(layout["weight_files"]) == 2 and res["loaded_words"] > layout["weight_words"]


def test_paired_convs_at_an_odd_width(tmp_path):
    """Paired convs (two output pixels a cycle, rtl_project.pair_layer) where the image is 10x14
    and the bottleneck 5x7: the last pair of each odd row has no second pixel, the first and last
    reads of a row half lie in the padding; a concat of two 3-channel parts pairs too. Whole
    network (logits and class map) and every layer alone."""
    seed = SEED + 57
    print("seed", seed)
    net = randnet.random_unet(widths=(3, 4), num_classes=3, size=(10, 14), seed=seed)
    p = irmod.save(net, tmp_path / "run" / "model")
    imgs = np.random.default_rng(seed).integers(0, 256, (2, 3, 10, 14), dtype=np.uint8)
    _exact(simulate(p, imgs, tmp_path / "build", logits=True), 2)
    _exact(simulate(p, imgs[:1], tmp_path / "build"), 1)
    rows = json.loads((tmp_path / "build" / "rtl" / "layout.json").read_text())["layers"]
    paired = [(r["w"], r["cin1"] > 0) for r in rows if r["pair"]]
    assert (7, False) in paired and (14, True) in paired, paired
    res = simulate(p, imgs[:1], tmp_path / "build", testcase="test_single_layer")
    assert res["images"][0]["mismatches"] == 0, res


@pytest.mark.parametrize("lanes", [(4, 4), (16, 16), (4, 16), (8, 2)])
def test_other_lane_counts(tmp_path_factory, lanes):
    """The engine at other PIN x POUT lanes, square and not (a word of max(PIN, POUT) channels
    read as slices of PIN, written as slices of POUT): a non-square network with odd channel
    counts (padding inside the channel groups, a concat whose first part does not fill its
    group), whole network and every layer alone."""
    seed = SEED + lanes[0] + 100 * lanes[1]
    print("seed", seed)
    d = tmp_path_factory.mktemp(f"rtl_{lanes[0]}x{lanes[1]}")
    net = randnet.random_unet(widths=(3, 5, 18), num_classes=7, size=(8, 12), seed=seed)
    p = irmod.save(net, d / "run" / "model")
    imgs = np.random.default_rng(seed).integers(0, 256, (2, 3, 8, 12), dtype=np.uint8)
    res = _exact(simulate(p, imgs, d / "build", lanes=lanes), 2)
    res = simulate(p, imgs[:1], d / "build", lanes=lanes, testcase="test_single_layer")
    assert res["images"][0]["mismatches"] == 0, res


@pytest.mark.parametrize("negative", [False, True])
def test_non_default_network_with_saturation(tmp_path, negative):
    """Other widths, classes and a non-square input, driven into saturation; with left shifts
    (down to -40, the IR's limit) in a quarter of the channels as well: whole network, and every
    layer alone for the left shifts."""
    seed = SEED + 1 + negative
    print("seed", seed)
    net = randnet.random_unet(widths=(4, 8, 16), num_classes=5, size=(32, 48), seed=seed, saturate=True,
                            negative_shifts=negative)
    p = irmod.save(net, tmp_path / "run" / "model")
    imgs = np.random.default_rng(seed).integers(0, 256, (1, 3, 32, 48), dtype=np.uint8)
    ref = irmod.reference.run(net, imgs, trace=True)
    assert (ref.trace[net.layers[1].output] == 255).any()  # saturation is exercised
    _exact(simulate(p, imgs, tmp_path / "build"), 1)
    if negative:
        assert any((net.param(lay, "shift") == -40).any() for lay in net.layers if "shift" in lay.params)
        res = simulate(p, imgs, tmp_path / "build", testcase="test_single_layer")
        assert res["images"][0]["mismatches"] == 0, res


def test_trained_default_network(trained_ir_path, tmp_path_factory):
    """Two validation images through the whole network, then one layer by layer (every layer's
    output compared), on the trained default network at the default 8x8 lanes. The cycles of a
    run are within 1.10x the ideal (real MACs / 64 lanes; README: 1.087x)."""
    from unetaccel.ir.data import load_val
    net = irmod.load(trained_ir_path)
    imgs, _ = load_val(trained_ir_path, net, 2)
    build = tmp_path_factory.mktemp("rtl_default")
    res = _exact(simulate(trained_ir_path, imgs, build), 2)
    ideal = sum(r["macs"] for r in irmod.summary(net)) / (8 * 8)
    for r in res["images"]:
        print(f"image {r['index']}: {r['cycles']} cycles, ideal {ideal:.0f}, {r['cycles'] / ideal:.3f}x ideal")
        assert ideal < r["cycles"] <= 1.10 * ideal, (r["cycles"], ideal)
    assert res["images"][0]["cycles"] == res["images"][1]["cycles"], "a run's cycles do not depend on the image"
    print("seconds", res["seconds"])
    res = simulate(trained_ir_path, imgs[:1], build, testcase="test_single_layer")
    for x in res["images"][0]["layers"]:
        assert x["mismatches"] == 0 and x["error"] == 0, x


def test_generated_rtl_is_lint_clean_and_deterministic(tmp_path):
    net = randnet.random_unet(seed=3)  # the default size
    a = generate_rtl(net, tmp_path / "a")
    b = generate_rtl(irmod.load(irmod.save(net, tmp_path / "m")), tmp_path / "b")
    for fa, fb in zip(a, b):
        assert fa.read_bytes() == fb.read_bytes(), fa.name
    d = ensure_verilator_on_path()
    r = subprocess.run([str(d / "verilator"), "--lint-only", "-Wall", *SOURCES, "--top-module", "tb_unet"],
                       cwd=tmp_path / "a", capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]


def test_testbench_fails_on_its_own_on_a_wrong_output(small, monkeypatch):
    """The product testbench judges what it compares: with one wrong byte in the expected class
    map of its data file (test_network), or in one layer's expected output (test_single_layer),
    cocotb reports the test failed, naming the image and layer; result.json is still written."""
    p, build, imgs = small
    real = irmod.reference.run
    net = irmod.load(p)
    wrong_layer = rtl_layout(net)[0][0].output  # the output of layer-table row 0 (single-layer mode)

    def wrong(*args, **kw):
        ref = real(*args, **kw)
        ref.classes = ref.classes.copy()
        ref.classes[0, 0, 0] = (ref.classes[0, 0, 0] + 1) % net.num_classes
        if ref.trace is not None and wrong_layer in ref.trace:
            ref.trace = {**ref.trace, wrong_layer: ref.trace[wrong_layer] ^ 1}
        return ref

    monkeypatch.setattr(irmod.reference, "run", wrong)
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # else cocotb's runner exits pytest on the failure itself
    res = simulate(p, imgs[:2], build)
    assert [r["mismatches"] for r in res["images"]] == [1, 0]
    assert len(res["failures"]) == 1 and res["failures"][0].startswith("test_network"), res["failures"]
    assert "image 0: 1 mismatching bytes" in res["failures"][0] and "image 1" not in res["failures"][0]
    res = simulate(p, imgs[:1], build, testcase="test_single_layer")
    assert [x["mismatches"] > 0 for x in res["images"][0]["layers"]][:2] == [True, False]
    assert len(res["failures"]) == 1 and "image 0 layer 0 " in res["failures"][0], res["failures"]


@pytest.mark.parametrize("lanes", [(8, 8), (16, 16)])
def test_default_network_rtl_is_lint_clean(tmp_path, lanes):
    """The default network's engine: eight weight banks, the last shorter, at 8x8 (no paired
    conv: one activation memory); paired convs, two activation banks and two weight banks at
    16x16. Verilator -Wall finds nothing (the small networks of the other lint tests have one
    weight bank)."""
    generate_rtl(randnet.random_unet(seed=SEED), tmp_path, lanes=lanes)
    layout = json.loads((tmp_path / "layout.json").read_text())
    assert len(layout["weight_files"]) == (8 if lanes == (8, 8) else 2) and layout["pairs"] == (lanes == (16, 16))
    d = ensure_verilator_on_path()
    r = subprocess.run([str(d / "verilator"), "--lint-only", "-Wall", *SOURCES, "--top-module", "tb_unet"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]
