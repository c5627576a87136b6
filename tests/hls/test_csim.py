"""C simulation == NumPy reference at every layer, in both type modes (plain C++ and ap_int)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.codegen.hls_project import generate_hls
from unetaccel.hls import csim
from unetaccel.ir import IRError, randnet
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
        # the registers after every run (ERROR 0, LAYER, NUM_LAYERS, ID/VERSION/CONFIG, geometry)
        assert rep.tensors["<registers>"][0] == 9 * n_images
        # a single-layer start rejected without stream traffic; early and late TLAST: bad_size, the
        # frame read up to its TLAST, an all-zero result frame; then the images above, exact
        protocol = [ln.split()[1] for ln in rep.lines if ln.startswith("PROTOCOL")]
        assert protocol == ["single_layer_rejected", "single_layer_no_output", "single_layer_no_input",
                            "early_tlast_error", "early_tlast_input_read", "late_tlast_error",
                            "late_tlast_input_drained"], rep.lines[:12]
        assert sum(ln.startswith("STREAM ") and "_zero_frame equal" in ln for ln in rep.lines) == 2


def test_trained_default_network_8_images_both_modes(trained_ir_path, tmp_path_factory):
    build = tmp_path_factory.mktemp("hls_default")
    reports = csim.run(trained_ir_path, build, images=8, modes=("native", "ap"))
    net = irmod.load(trained_ir_path)
    _check(reports, net, 8)
    csim.print_report(reports)


@pytest.mark.parametrize("widths,classes,size,seed,saturate,negative", [((4, 8, 16), 5, (32, 48), 101, False, False),
                                                                         ((6, 12), 3, (16, 40), 102, True, False),
                                                                         ((6, 12), 4, (8, 24), 103, True, True)])
def test_non_default_random_networks(widths, classes, size, seed, saturate, negative, tmp_path):
    """Other widths, classes and non-square inputs; lively, saturating, and with left shifts
    down to -40 (the IR's limit) in a quarter of the channels."""
    print("seed", seed)
    net = randnet.random_unet(widths=widths, num_classes=classes, size=size, seed=seed, saturate=saturate,
                            negative_shifts=negative)
    p = irmod.save(net, tmp_path / "run" / "model")
    reports = csim.run(p, tmp_path / "build", images=3, modes=("native", "ap"), random_images=True, seed=seed)
    _check(reports, net, 3)
    # the logits stream (int8 HWC) as well
    rep = csim.run(p, tmp_path / "build", images=2, modes=("native",), logits=True, random_images=True,
                   seed=seed)[0]
    assert rep.mismatches == 0 and rep.tensors["<output stream>"][0] == 2 * classes * size[0] * size[1]


def test_generation_is_deterministic(tmp_path):
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=5)
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
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=5)
    p = irmod.save(net, tmp_path / "m")
    monkeypatch.setenv("CXX", "no-such-g++")
    with pytest.raises(ToolMissing, match="apt-get install -y g\\+\\+"):
        csim.run(p, tmp_path / "build", images=1, modes=("native",), random_images=True)


def test_cli_csim_prints_mismatches_and_exit_codes(tmp_path):
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 16), seed=9)
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


def test_lanes_change_the_layout_and_stay_exact(tmp_path):
    """--lanes PINxPOUT sets the engine's lanes and the storage that feeds them: the activation
    memory in words of A = max(PIN, POUT) channels (two banks, partitioned on the lanes) at the
    RTL's depth, weight ROM rows of PIN x POUT packed weights (reshaped), per-channel ROM rows of
    POUT; results stay exact."""
    from unetaccel.codegen import hls_project, rtl_project
    net = randnet.random_unet(widths=(6, 12), num_classes=5, size=(8, 16), seed=77)
    p = irmod.save(net, tmp_path / "run" / "model")
    texts = {}
    for lanes in ((4, 16), (16, 4)):
        reports = csim.run(p, tmp_path / "b", images=2, modes=("native", "ap"), lanes=lanes, random_images=True,
                           seed=77)
        _check(reports, net, 2)
        hls = tmp_path / "b" / "hls"
        texts[lanes] = {f: (hls / f).read_text() for f in ("unet_engine.h", "unet_config.h", "unet_weights.cpp",
                                                            "unet_top.cpp", "README.md")}
    for (pin, pout), t in texts.items():
        a = max(pin, pout)
        _, _, depth, rows, weights, mul, _, _ = rtl_project.tables(net, (pin, pout))
        assert f"static const int PIN = {pin}, POUT = {pout}, A = {a}," in t["unet_config.h"]
        assert f"static const int ACT_WORDS = {depth};" in t["unet_config.h"]  # the RTL's activation memory
        wb = 32 if pin * pout * 5 % 32 == 0 else 16
        assert hls_project.weight_word_bits(pin * pout * 5) == wb
        assert f"WWORD_BITS = {wb}, WW = {pin * pout * 5 // wb};" in t["unet_config.h"]
        assert f"W_WORDS = {len(weights)}, P_WORDS = {len(mul)};" in t["unet_config.h"]
        assert t["unet_weights.cpp"].count("\n    {0x") == len(weights)
        assert "HLS ARRAY_RESHAPE variable=WROM complete dim=2" in t["unet_top.cpp"]
        assert "HLS ARRAY_PARTITION variable=amem0 complete dim=2" in t["unet_top.cpp"]
        assert t["unet_engine.h"].count("HLS PIPELINE II=1") == 3 and "pipeline_ii" not in t["unet_engine.h"]
        assert f"lanes {pin}x{pout}" in t["README.md"]
    assert texts[(4, 16)]["unet_weights.cpp"] != texts[(16, 4)]["unet_weights.cpp"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "unetaccel.cli", *[str(a) for a in args]], capture_output=True,
                          text=True)


def test_csim_keeps_what_generate_made(tmp_path):
    """csim reuses a project generated from the same IR by the same generator (lanes, part,
    clock and edits stay); --lanes or another IR regenerates it, keeping part and clock; a
    corrupted ROM value in the reused project makes csim report mismatches and exit 1."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=12)
    p = irmod.save(net, tmp_path / "run" / "model")
    b = tmp_path / "b"
    r = _cli("generate", "--ir", p, "--lanes", "4x4", "--part", "xcku5p-ffvb676-2-e", "--clock-ns", "4", "--out", b)
    assert r.returncode == 0, r.stderr
    hls = b / "hls"
    stamp = json.loads((hls / ".generated.json").read_text())
    assert stamp["lanes"] == [4, 4] and stamp["part"] == "xcku5p-ffvb676-2-e" and stamp["clock_ns"] == 4.0
    args = ["csim", "--ir", p, "--build", b, "--images", "1", "--random-images", "--types", "native"]
    r = _cli(*args)
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "mismatches: 0", r.stdout + r.stderr
    assert "generating" not in r.stdout
    assert "static const int PIN = 4, POUT = 4," in (hls / "unet_config.h").read_text()
    assert "set_part {xcku5p-ffvb676-2-e}" in (hls / "run_hls.tcl").read_text()
    # a corrupted weight in the generated ROM: csim keeps the edit, reports it and exits 1
    src = (hls / "unet_weights.cpp").read_text()
    head, rest = src.split("WROM[W_WORDS][WW] = {\n    {", 1)
    first, tail = rest.split(",", 1)  # "0x....u": the first conv's first word; bit 0 = weight (0, 0)
    bad = f"0x{int(first.rstrip('u'), 16) ^ 1:0{len(first) - 3}X}u"
    (hls / "unet_weights.cpp").write_text(f"{head}WROM[W_WORDS][WW] = {{\n    {{{bad},{tail}")
    r = _cli(*args)
    assert r.returncode == 1, r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("mismatches: ") and int(last.split()[1]) > 0
    assert "enc0.0.conv" in r.stdout and "MISMATCH" in r.stdout
    # other lanes: regenerated (the corruption is gone), part and clock kept
    r = _cli(*args, "--lanes", "8x8")
    assert r.returncode == 0 and "generating" in r.stdout, r.stdout + r.stderr
    assert "static const int PIN = 8, POUT = 8," in (hls / "unet_config.h").read_text()
    tcl = (hls / "run_hls.tcl").read_text()
    assert "set_part {xcku5p-ffvb676-2-e}" in tcl and "create_clock -period 4.0" in tcl
    # another IR at the same path: regenerated with the lanes, part and clock it had
    irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=13), p)
    r = _cli(*args)
    assert r.returncode == 0 and "another IR" in r.stdout, r.stdout + r.stderr
    stamp = json.loads((hls / ".generated.json").read_text())
    assert stamp["lanes"] == [8, 8] and stamp["part"] == "xcku5p-ffvb676-2-e" and stamp["clock_ns"] == 4.0


def test_ensure_project_regenerates_when_any_generator_file_changes(tmp_path, monkeypatch):
    """csim's reuse of BUILD/hls follows the one build cache: editing codegen/layout.py (the planner
    and allocator the HLS project uses; the HLS key used to miss it) regenerates the project with
    the lanes, part and clock it had; without an edit it is reused."""
    from unetaccel.codegen import cache
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=21)
    p = irmod.save(net, tmp_path / "run" / "model")
    generate_hls(net, tmp_path / "b" / "hls", lanes=(4, 4), part="xcku5p-ffvb676-2-e", clock_ns=4.0)
    logs = []
    csim.ensure_project(p, tmp_path / "b", log=logs.append)
    assert logs == []
    edited = tmp_path / "edited" / "layout.py"
    edited.parent.mkdir()
    edited.write_bytes((Path(cache.__file__).parent / "layout.py").read_bytes() + b"# edited\n")
    sources = [edited if f.name == "layout.py" and f.parent.name == "codegen" else f for f in cache.generator_sources()]
    assert edited in sources
    monkeypatch.setattr(cache, "generator_sources", lambda: sources)
    csim.ensure_project(p, tmp_path / "b", log=logs.append)
    assert len(logs) == 1 and "the generator changed since" in logs[0], logs
    assert "lanes 4x4, part xcku5p-ffvb676-2-e, clock 4.0 ns" in logs[0]
    stamp = cache.read_stamp(tmp_path / "b" / "hls")
    assert stamp["generator"] == cache.generator_digest() and stamp["lanes"] == (4, 4)


def test_compile_tb_is_keyed_by_sources_flags_and_compiler_version(tmp_path, monkeypatch):
    """The g++ binary is reused while the project's sources, the flags and the compiler's version
    are unchanged, and rebuilt when any of them changes (the compile itself is faked here)."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=22)
    project = tmp_path / "hls"
    generate_hls(net, project)
    compiles = []
    real_run = subprocess.run

    def fake_run(cmd, **kw):
        if "-o" not in cmd:
            return real_run(cmd, **kw)
        compiles.append(cmd)
        (Path(kw["cwd"]) / cmd[cmd.index("-o") + 1]).write_text("binary")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(csim.subprocess, "run", fake_run)
    version = ["g++ (Debian 12.2.0-14) 12.2.0"]
    monkeypatch.setattr(csim, "tool_version", lambda program: version[0])
    csim.compile_tb(project, "native", log=lambda *a: None)
    csim.compile_tb(project, "native", log=lambda *a: None)
    assert len(compiles) == 1
    version[0] = "g++ (Debian 13.1.0-1) 13.1.0"
    csim.compile_tb(project, "native", log=lambda *a: None)
    assert len(compiles) == 2
    csim.compile_tb(project, "ap", log=lambda *a: None)  # other flags: its own binary
    assert len(compiles) == 3 and (project / "tb_ap").exists()
    (project / "unet_top.cpp").write_text((project / "unet_top.cpp").read_text() + "// edited\n")
    csim.compile_tb(project, "native", log=lambda *a: None)
    assert len(compiles) == 4
