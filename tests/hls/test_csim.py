"""C simulation == NumPy reference at every layer, in both type modes (plain C++ and ap_int)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.codegen.hls_project import generate_hls
from unetaccel.hls import csim
from unetaccel.ir import IRError, synth
from unetaccel.ir.builder import IRBuilder
from unetaccel.tools import ToolMissing


def _check(reports, net, n_images):
    for rep in reports:
        assert rep.mismatches == 0, [v for v in rep.tensors.values() if v[1]]
        assert rep.images == n_images
        # every IR tensor the C materialises was compared (a concat is its two inputs, no copy)
        want = {net.input} | {lay.output for lay in net.layers if lay.op != "concat"}
        assert want <= set(rep.tensors), want - set(rep.tensors)
        assert rep.tensors["<output stream>"][0] > 0


def test_trained_default_network_8_images_both_modes(trained_ir_path, tmp_path_factory):
    build = tmp_path_factory.mktemp("hls_default")
    reports = csim.run(trained_ir_path, build, images=8, modes=("native", "ap"))
    net = irmod.load(trained_ir_path)
    _check(reports, net, 8)
    csim.print_report(reports)


@pytest.mark.parametrize("widths,classes,size,seed,saturate", [((4, 8, 16), 5, (32, 48), 101, False),
                                                                ((6, 12), 3, (16, 40), 102, True)])
def test_non_default_random_networks(widths, classes, size, seed, saturate, tmp_path):
    print("seed", seed)
    net = synth.random_unet(widths=widths, num_classes=classes, size=size, seed=seed, saturate=saturate)
    p = irmod.save(net, tmp_path / "run" / "model")
    reports = csim.run(p, tmp_path / "build", images=3, modes=("native", "ap"), random_images=True, seed=seed)
    _check(reports, net, 3)
    # the logits stream (int8 HWC) as well
    rep = csim.run(p, tmp_path / "build", images=2, modes=("native",), logits=True, random_images=True,
                   seed=seed)[0]
    assert rep.mismatches == 0 and rep.tensors["<output stream>"][0] == 2 * classes * size[0] * size[1]


def test_generation_is_deterministic(tmp_path):
    net = synth.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=5)
    a = generate_hls(net, tmp_path / "a")
    b = generate_hls(irmod.load(irmod.save(net, tmp_path / "m")), tmp_path / "b")
    assert [f.name for f in a] == [f.name for f in b]
    for fa, fb in zip(a, b):
        assert fa.read_bytes() == fb.read_bytes(), fa.name


def test_unsupported_layer_fails_at_generate_naming_it(tmp_path):
    b = IRBuilder("odd", (3, 8, 8))
    y = b.conv2d("plain_requant", b.input, np.ones((4, 3, 3, 3), dtype=np.int64), 0, out_f=4)
    h = b.conv2d("head", y, np.ones((2, 4, 1, 1), dtype=np.int64), 0, bias=[0, 0], out_f=2, out_signed=True)
    net = b.build(h, b.argmax("argmax", h))
    with pytest.raises(IRError, match="layer 'plain_requant' \\(conv2d\\)"):
        generate_hls(net, tmp_path / "hls")


def test_missing_compiler_says_what_to_install(tmp_path, monkeypatch):
    net = synth.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=5)
    p = irmod.save(net, tmp_path / "m")
    monkeypatch.setenv("CXX", "no-such-g++")
    with pytest.raises(ToolMissing, match="apt-get install -y g\\+\\+"):
        csim.run(p, tmp_path / "build", images=1, modes=("native",), random_images=True)


def test_cli_csim_prints_mismatches_and_exit_codes(tmp_path):
    net = synth.random_unet(widths=(4, 8), num_classes=3, size=(8, 16), seed=9)
    p = irmod.save(net, tmp_path / "m")
    cmd = [sys.executable, "-m", "unetaccel.cli", "csim", "--ir", str(p), "--build", str(tmp_path / "b"),
           "--images", "2", "--random-images", "--types", "native"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "mismatches: 0"
    # a corrupted reference makes csim report the layer, index and both values, and exit 1
    ref = tmp_path / "b" / "hls" / "data" / "ref_0.bin"
    exe = tmp_path / "b" / "hls" / "tb_native"
    blob = np.fromfile(ref, dtype="<i8")
    blob[net.in_channels * 8 * 16 + 5] += 1  # first value after the input: the first accumulator
    blob.tofile(ref)
    rep = csim.run_tb(exe, tmp_path / "b" / "hls", 2)
    assert rep.mismatches == 1
    first = [v[2] for v in rep.tensors.values() if v[1]][0]
    assert "MISMATCH" in first and "(c=0, y=0, x=5)" in first
    r = subprocess.run(cmd[:5] + [str(tmp_path / "nope.json")] + cmd[6:], capture_output=True, text=True)
    assert r.returncode == 2 and "no such IR file" in r.stderr
    assert os.path.exists(exe)
