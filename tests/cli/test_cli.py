"""The `unetaccel` command: exit codes, the `mismatches: N` line, clear errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from unetaccel import ir as irmod
from unetaccel.ir import randnet
from unetaccel.model import UNet
from unetaccel.model.train import save_checkpoint


def cli(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "unetaccel.cli", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd)
    return r.returncode, r.stdout, r.stderr


COMMANDS = {"train", "quantize", "inspect", "generate", "bitstream", "csim", "rtlsim", "pynqsim", "fsicsim", "infer", "demo",
            "report"}


def test_help_lists_the_commands():
    """Exactly these commands: none missing, none extra, each listed by --help."""
    import typer.main
    from unetaccel.cli import app
    assert set(typer.main.get_command(app).commands) == COMMANDS
    code, out, _ = cli("--help")
    assert code == 0
    listed = {line.split()[1] for line in out.splitlines()
              if line.startswith("│ ") and len(line.split()) > 1 and line.split()[1] in COMMANDS}
    assert listed == COMMANDS, out


def test_bitstream_without_vivado_exits_2_naming_vivado_and_the_scripts(tmp_path):
    """As a user runs it (a subprocess, its PATH without Vivado): the folders are written, then exit 2
    with one error line naming Vivado and BUILD/pynq (tests/codegen/test_bitstream_cli.py has the rest)."""
    p = irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "m")
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}
    r = subprocess.run([sys.executable, "-m", "unetaccel.cli", "bitstream", "--ir", str(p), "--build",
                        str(tmp_path / "b")], capture_output=True, text=True, env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: Vivado ('vivado') is not on the PATH") and str(tmp_path / "b" / "pynq") in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert (tmp_path / "b" / "pynq" / "build_bitstream.tcl").is_file() and (tmp_path / "b" / "rtl" / "package_ip.tcl").is_file()


def test_inspect(tmp_path):
    net = randnet.random_unet(widths=(4, 8, 16), num_classes=5, size=(32, 48), seed=1)
    p = irmod.save(net, tmp_path / "m")
    code, out, err = cli("inspect", "--ir", p, "--lanes", "4x4")
    assert code == 0, err
    assert "conv_transpose2d" in out and "ideal cycles" in out
    # one row per layer with its activation memory: the output tensor, one image, ceil(bits/8) bytes a value
    lines = out.splitlines()
    header = next(line for line in lines if "act B" in line)
    col = [c.strip() for c in header.split("┃")].index("act B")
    cells = {r[1]: r for r in ([c.strip() for c in line.split("│")] for line in lines if line.startswith("│"))}
    want = {}
    for lay in net.layers:
        t = net.tensors[lay.output]
        want[lay.name] = t.shape[0] * t.shape[1] * t.shape[2] * ((t.type.bits + 7) // 8)
        assert cells[lay.name][col] == str(want[lay.name]), lay.name
    assert want["enc0.0.conv"] == 4 * 32 * 48 * 3 and want["enc0.0.bn"] == 4 * 32 * 48  # 18-bit acc vs uint8
    total = next(line for line in lines if line.startswith("activations: "))
    assert total.startswith(f"activations: {sum(want.values()):,} bytes in all layer outputs, one image")
    assert total.endswith(f"largest {max(want.values()):,}")


def test_bad_ir_and_bad_lanes_exit_2(tmp_path):
    code, _, err = cli("inspect", "--ir", tmp_path / "missing.json")
    assert code == 2 and "error:" in err and "missing.json" in err and "Traceback" not in err
    p = irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "m")
    code, _, err = cli("inspect", "--ir", p, "--lanes", "3x8")
    assert code == 2 and "power" in err
    code, _, err = cli("rtlsim", "--ir", p, "--build", tmp_path / "b", "--simulator", "questa")
    assert code == 2 and "'questa'" in err and "verilator or icarus" in err and "Traceback" not in err, err
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("command", ["inspect", "generate", "csim", "rtlsim"])
@pytest.mark.parametrize("lanes", ["64x4", "1x8", "8x3", "8by8"])
def test_every_command_takes_lanes_by_one_rule(tmp_path, command, lanes):
    """--lanes is one knob with one rule (codegen.layout.check_lanes) in every command: csim once
    accepted 64x4, which the RTL cannot build. Refused before anything is generated or built."""
    p = irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "m")
    extra = ["--out", tmp_path / "b"] if command == "generate" else ["--build", tmp_path / "b"] \
        if command in ("csim", "rtlsim") else []
    code, _, err = cli(command, "--ir", p, "--lanes", lanes, *extra)
    assert code == 2 and f"--lanes {lanes}" in err.replace("'", "") and "Traceback" not in err, err
    assert not (tmp_path / "b").exists()


def test_generate_csim_and_rtlsim_with_relative_paths_and_waves(tmp_path):
    """generate writes both projects; lanes the RTL cannot build are refused before anything is
    written; csim and rtlsim work with a relative build folder and keep the (non-square) lanes
    generate used; rtlsim runs random images, prints cycles and `mismatches: 0`, and dumps waves
    on request, under Verilator and under Icarus (FST)."""
    p = irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=2), tmp_path / "run" / "model")
    code, out, err = cli("generate", "--ir", p, "--lanes", "64x4", "--out", "b64", cwd=tmp_path)
    assert code == 2 and "--lanes 64x4" in err and "2, 4, 8, 16, 32" in err
    assert not (tmp_path / "b64").exists()
    code, out, err = cli("generate", "--ir", p, "--lanes", "4x16", "--out", "b", cwd=tmp_path)
    assert code == 0, err
    assert (tmp_path / "b" / "hls" / "run_hls.tcl").exists() and (tmp_path / "b" / "rtl" / "unet_core.sv").exists()
    code, out, err = cli("csim", "--ir", "run/model.json", "--build", "b", "--types", "native", "--random-images",
                         "--images", "2", cwd=tmp_path)
    assert code == 0, err[-2000:]
    assert out.strip().splitlines()[-1] == "mismatches: 0"
    code, out, err = cli("rtlsim", "--ir", "run/model.json", "--build", "b", "--random-images",
                         "--images", "2", "--waves", cwd=tmp_path)
    assert code == 0, err[-2000:]
    assert "lanes: 4x16" in out and '"lanes": [\n  4,\n  16\n ]' in (tmp_path / "b" / "rtl" / "layout.json").read_text()
    assert out.count("cycles: ") == 2 and out.strip().splitlines()[-1] == "mismatches: 0"
    assert (tmp_path / "b" / "rtl" / "dump.vcd").stat().st_size > 0, "no waveform written"
    assert "waveforms:" in out
    code, out, err = cli("rtlsim", "--ir", "run/model.json", "--build", "b", "--random-images", "--waves",
                         "--simulator", "icarus", cwd=tmp_path)
    assert code == 0, err[-2000:]
    assert "lanes: 4x16, multipliers: dsp, simulator: icarus" in out and out.strip().splitlines()[-1] == "mismatches: 0"
    assert (tmp_path / "b" / "rtl" / "dump.fst").stat().st_size > 0, "no waveform written"
    assert "dump.fst" in out


def test_quantize_refuses_a_foreign_checkpoint(tmp_path):
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, tmp_path / "foreign.pt")
    code, _, err = cli("quantize", "--checkpoint", tmp_path / "foreign.pt", "--out", tmp_path / "run")
    assert code == 2 and "not a unetaccel float checkpoint" in err
    # right format, weights of another architecture
    m = UNet(widths=(4, 8, 16), num_classes=5, size=(32, 48))
    p = save_checkpoint(tmp_path / "other.pt", m)
    ck = torch.load(p, weights_only=False)
    ck["config"]["widths"] = [8, 16, 32]
    torch.save(ck, p)
    code, _, err = cli("quantize", "--checkpoint", p, "--out", tmp_path / "run")
    assert code == 2 and "do not fit the architecture" in err


def test_quantize_end_to_end_prints_mismatches(trained_run, tmp_path):
    code, out, err = cli("quantize", "--checkpoint", trained_run / "float.pt", "--epochs", "0",
                         "--val-images", "4", "--train-length", "32", "--val-length", "16", "--out", tmp_path / "q")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[-1] == "mismatches: 0"
    assert "float vs W5A8" in out
    assert (tmp_path / "q" / "model.json").exists() and (tmp_path / "q" / "model.onnx").exists()
    assert (tmp_path / "q" / "val.npz").exists() and (tmp_path / "q" / "quant_metrics.json").exists()


@pytest.mark.parametrize("argv,match", [(("train", "--dataset", "voc", "--data-root", "/nonexistent/voc",
                                          "--out", "RUN"), "/nonexistent/voc"),
                                        (("train", "--dataset", "voc", "--data-root", "VOC", "--classes", "3",
                                          "--out", "RUN"), "--classes 3 disagrees with the voc dataset"),
                                        (("train", "--class-weights", "a,b", "--out", "RUN"),
                                         "--class-weights 'a,b': expected comma-separated positive numbers"),
                                        (("train", "--class-weights", "1,0,2", "--out", "RUN"),
                                         "--class-weights '1,0,2': weight 1 is 0.0"),
                                        (("train", "--classes", "3", "--class-weights", "1,2", "--size", "16x16",
                                          "--widths", "4,8", "--out", "RUN"),
                                         "--class-weights '1,2': 2 weights for 3 classes"),
                                        (("train", "--size", "0x64", "--out", "RUN"), "--size '0x64': height and width"),
                                        (("train", "--size", "60x64", "--out", "RUN"), "multiples of 2^levels"),
                                        (("train", "--dataset", "imagenet", "--out", "RUN"), "imagenet"),
                                        (("train", "--lr", "-1", "--out", "RUN"),
                                         "--lr -1.0: the learning rate must be positive"),
                                        (("train", "--beta", "2", "--size", "16x16", "--widths", "4,8",
                                          "--train-length", "4", "--val-length", "4", "--out", "RUN"),
                                         "beta = 2.0: must be in [0, 1]")])
def test_train_errors_are_one_line(argv, match, tmp_path):
    if "VOC" in argv:  # a minimal VOC 2012 folder (one image, one palette mask with labels 0 and 7)
        import numpy as np
        from PIL import Image
        base = tmp_path / "voc" / "VOCdevkit" / "VOC2012"
        for d in ("ImageSets/Segmentation", "JPEGImages", "SegmentationClass"):
            (base / d).mkdir(parents=True)
        for split in ("train", "val"):
            (base / "ImageSets/Segmentation" / f"{split}.txt").write_text("a\n")
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(base / "JPEGImages" / "a.jpg")
        m = np.zeros((16, 16), np.uint8)
        m[4:9, 4:9] = 7
        Image.fromarray(m, mode="P").save(base / "SegmentationClass" / "a.png")
    argv = tuple(str(tmp_path / a) if a == "RUN" else str(tmp_path / "voc") if a == "VOC" else a for a in argv)
    code, out, err = cli(*argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "RUN" / "float.pt").exists()


def test_palette_gives_every_class_its_own_colour():
    import numpy as np
    from unetaccel.palette import HUES, palette
    for k in list(range(2, 65)) + [HUES + 1]:  # 2..64 and the most it can colour
        pal = palette(k)
        assert pal.shape == (k, 3) and pal.dtype == np.uint8
        assert (pal[0] == 0).all(), k
        assert len(np.unique(pal, axis=0)) == k, f"{k} classes: colours repeat"


def test_infer_writes_a_class_map(tmp_path):
    """The PNG's colours map back, pixel for pixel, to the reference's class map."""
    import numpy as np
    from PIL import Image
    from unetaccel.palette import palette
    net = randnet.random_unet(widths=(4, 8), num_classes=6, size=(16, 24), seed=2)
    p = irmod.save(net, tmp_path / "m")
    print("network seed 2, image seed 0")
    arr = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "x.png")
    code, out, err = cli("infer", "--ir", p, "--image", tmp_path / "x.png", "--out", tmp_path / "y.png")
    assert code == 0, err
    got = np.asarray(Image.open(tmp_path / "y.png"))
    assert got.shape == (16, 24, 3)
    classes = irmod.reference.run(irmod.load(p), arr[None]).classes[0]
    assert len(np.unique(classes)) >= 3, "the test image should show several classes"
    colour_class = {tuple(int(v) for v in c): i for i, c in enumerate(palette(net.num_classes))}
    back = np.array([[colour_class[tuple(int(v) for v in px)] for px in row] for row in got])
    np.testing.assert_array_equal(back, classes)
    Image.fromarray(arr[:8]).save(tmp_path / "small.png")  # smaller than the network: padded (tests/test_tiling.py)
    code, out, err = cli("infer", "--ir", p, "--image", tmp_path / "small.png", "--out", tmp_path / "z.png")
    assert code == 0 and "8x24 picture, 1 tile of 16x24" in out, err
    assert np.asarray(Image.open(tmp_path / "z.png")).shape == (8, 24, 3)


@pytest.mark.parametrize("edit,match", [
    (lambda lay: lay["attrs"].update(lo=None), r"attrs.lo: expected an integer"),
    (lambda lay: lay.update(attrs=[1, 2]), r"attrs: expected an object"),
])
def test_inspect_of_a_malformed_ir_is_one_error_line(tmp_path, edit, match):
    import json
    import re
    p = irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "m")
    doc = json.loads(p.read_text())
    lay = next(lay for lay in doc["layers"] if lay["op"] == "batchnorm")
    edit(lay)
    p.write_text(json.dumps(doc))
    code, out, err = cli("inspect", "--ir", p)
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(rf"layer '{lay['name']}': {match}", lines[0]), lines[0]


# -- quantize's exit codes, in-process (the job's export is monkeypatched) ---------------------

@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    seed = 17
    print("seed", seed)
    torch.manual_seed(seed)
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "float.pt", UNet(3, 3, (4, 8), (16, 16)))


def _quantize_in_process(ck, out):
    from typer.testing import CliRunner
    from unetaccel.cli import app
    return CliRunner().invoke(app, ["quantize", "--checkpoint", str(ck), "--epochs", "0", "--val-images", "4",
                                    "--train-length", "16", "--val-length", "8", "--out", str(out)])


def test_quantize_exits_1_with_the_mismatch_count_last(tiny_checkpoint, tmp_path, monkeypatch):
    """A wrong weight planted in the exported IR: the Brevitas-vs-reference check counts the
    differing values, names the tensor, prints `mismatches: N` last and exits 1."""
    import numpy as np
    import unetaccel.quant.job as job
    from unetaccel.ir.graph import make_ir
    real = job.qonnx_to_ir
    planted = {}

    def plant(*a, **kw):
        ir = real(*a, **kw)
        lay = ir.layers[0]  # the first conv: its accumulator is compared directly
        key = lay.params["weight"]
        arrays = dict(ir.arrays)
        w = arrays[key].copy()
        w[0, 0, 1, 1] = -1 if w[0, 0, 1, 1] > 0 else 1  # the centre tap of channel 0 changes sign or value
        arrays[key] = w
        planted["tensor"] = lay.output
        return make_ir(ir.name, ir.input, ir.tensors, ir.layers, ir.logits, ir.classes, arrays, ir.meta)
    monkeypatch.setattr(job, "qonnx_to_ir", plant)
    r = _quantize_in_process(tiny_checkpoint, tmp_path / "q")
    assert r.exit_code == 1, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[-1].startswith("mismatches: ")
    n = int(lines[-1].split(": ")[1])
    assert n > 0
    assert any(line.startswith(f"MISMATCH {planted['tensor']} (conv2d): ") for line in lines), r.stdout
    # the count printed is the one the job recorded
    doc = __import__("json").loads((tmp_path / "q" / "quant_metrics.json").read_text())
    assert doc["exactness"]["mismatches"] == n
    assert np.isfinite(doc["w5a8"]["mean_iou"])


def test_quantize_without_a_planted_value_exits_0(tiny_checkpoint, tmp_path):
    r = _quantize_in_process(tiny_checkpoint, tmp_path / "q")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().splitlines()[-1] == "mismatches: 0"


def test_quantize_with_an_ir_of_another_network_is_an_internal_error(tiny_checkpoint, tmp_path, monkeypatch):
    """The exporter wrote an IR the Brevitas model does not match: a bug of unetaccel, not bad input,
    so `internal error` with the traceback and exit 3."""
    import unetaccel.quant.job as job
    other = randnet.random_unet(widths=(4, 8, 16), num_classes=3, size=(16, 16), seed=2)
    monkeypatch.setattr(job, "qonnx_to_ir", lambda *a, **kw: other)
    r = _quantize_in_process(tiny_checkpoint, tmp_path / "q")
    assert r.exit_code == 3, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert ("internal error: ExactnessError: cannot compare Brevitas with the reference: " in r.stderr
            and "layer sequence" in r.stderr), r.stderr
    assert "Traceback" in r.stderr and "please report it" in r.stderr


# -- the error boundary: user errors exit 2 in one line, bugs exit 3 with the traceback ----------

def _invoke(*args):
    from typer.testing import CliRunner
    from unetaccel.cli import app
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def tiny_ir(tmp_path):
    return irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "m")


def test_a_bug_is_an_internal_error_with_its_traceback(tiny_ir, monkeypatch):
    """A numpy-style ValueError inside a command is a bug: exit 3, not `error:` with exit 2."""
    import unetaccel.ir as irpkg

    def broken(*a, **kw):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")
    monkeypatch.setattr(irpkg, "summary", broken)
    r = _invoke("inspect", "--ir", tiny_ir)
    assert r.exit_code == 3, r.output
    err = r.stderr
    assert err.startswith("internal error: ValueError: operands could not be broadcast"), err
    assert "Traceback (most recent call last)" in err and "in broken" in err
    assert "please report it" in err.strip().splitlines()[-1]
    assert "\nerror:" not in "\n" + err


def test_debug_shows_the_traceback_of_a_user_error(tmp_path):
    r = _invoke("--debug", "inspect", "--ir", tmp_path / "missing.json")
    assert r.exit_code == 2, r.output
    assert "Traceback (most recent call last)" in r.stderr and "IRError" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'missing.json'}: no such IR file")
    # the option does not stick: the next run without it prints the one line
    r = _invoke("inspect", "--ir", tmp_path / "missing.json")
    assert r.exit_code == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_infer_on_a_file_that_is_not_an_image_is_one_error_line(tiny_ir, tmp_path):
    (tmp_path / "notes.png").write_text("not an image\n")
    r = _invoke("infer", "--ir", tiny_ir, "--image", tmp_path / "notes.png", "--out", tmp_path / "y.png")
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'notes.png'}: not an image"), r.stderr
    assert not (tmp_path / "y.png").exists()


@pytest.mark.parametrize("sub", ["y.png", "sub/y.png"])
def test_infer_to_an_out_that_cannot_be_written_is_one_error_line(tiny_ir, tmp_path, sub):
    """--out under a regular file: one line naming the path and the file in the way, exit 2, before any work."""
    import numpy as np
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    (tmp_path / "afile").write_text("a regular file\n")
    r = _invoke("infer", "--ir", tiny_ir, "--image", tmp_path / "x.png", "--out", tmp_path / "afile" / sub)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == (f"error: --out {tmp_path / 'afile' / sub}: cannot write there: "
                                            f"{tmp_path / 'afile'} is a file, not a folder"), r.stderr


@pytest.mark.parametrize("option,match", [(("--clock-ns", "0"), "--clock-ns 0.0: the clock period must be positive"),
                                          (("--lanes", "8"), "--lanes '8': expected PINxPOUT"),
                                          (("--mult", "lut"), "--mult 'lut': one of dsp, dsp2")])
def test_generate_refuses_a_bad_option_before_writing(tiny_ir, tmp_path, option, match):
    r = _invoke("generate", "--ir", tiny_ir, *option, "--out", tmp_path / "b")
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {match}"), r.stderr
    assert not (tmp_path / "b").exists()


@pytest.fixture
def demo_stubs(tmp_path, monkeypatch):
    """demo's training and quantization replaced by a random IR with validation images (fast)."""
    import numpy as np
    import unetaccel.model.train as train_mod
    import unetaccel.quant.job as job
    from unetaccel.ir.data import save_val
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=3)
    print("network seed 3, image seed 0")

    def fake_quantize(checkpoint, out, **kw):
        irmod.save(net, out / "model")
        imgs = np.random.default_rng(0).integers(0, 256, (4, 3, 8, 8), dtype=np.uint8)
        save_val(out / "val.npz", imgs, np.zeros((4, 8, 8), np.int64))
        return {"w5a8": scores, "exactness": {"mismatches": 0, "images": 0, "tensors": []}}
    scores = {"pixel_accuracy": 0.5, "mean_iou": 0.25}
    monkeypatch.setattr(train_mod, "train", lambda cfg, out, **kw: {"val": scores, "seconds": 0.0})
    monkeypatch.setattr(job, "quantize", fake_quantize)
    return tmp_path / "demo"


@pytest.mark.parametrize("stage", ["csim", "rtl"])
def test_demo_reports_a_failed_simulation_in_one_line(demo_stubs, monkeypatch, stage):
    import unetaccel.hls.csim as cs
    import unetaccel.rtl_sim.runner as runner

    def fail(*a, **kw):
        raise (cs.CsimError("g++ failed in X (native types)") if stage == "csim"
               else runner.RtlSimError("the cocotb test failed: test_network (log above, results.xml)"))
    if stage == "csim":
        monkeypatch.setattr(cs, "run", fail)
    else:
        monkeypatch.setattr(cs, "run", lambda *a, **kw: [])
        monkeypatch.setattr(runner, "simulate", fail)
    r = _invoke("demo", "--out", demo_stubs)
    assert r.exit_code == 2, (r.output, r.exception)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] in ("error: g++ failed in X (native types)",
                                            "error: the cocotb test failed: test_network (log above, results.xml)")


@pytest.mark.slow
def test_demo_end_to_end_on_a_tiny_network(tmp_path):
    """train -> quantize -> csim -> RTL on a 2-level, 16x16 network: every rung of the ladder
    compares values and finds no mismatch; `mismatches: 0` is the last line, exit 0."""
    code, out, err = cli("demo", "--out", tmp_path / "demo", "--epochs", "1", "--qat-epochs", "0", "--widths", "4,8",
                         "--size", "16x16", "--train-length", "32", "--val-length", "8")
    assert code == 0, err[-3000:]
    assert out.strip().splitlines()[-1] == "mismatches: 0"
    # quiet: one line a step, the tables and the paths; the tools' output is in files
    lines = (out + err).splitlines()
    assert len(lines) < 60 and max(map(len, lines)) <= 200, out + err
    assert [ln[:5] for ln in lines if ln.startswith("[")] == [f"[{i}/6]" for i in range(1, 7)], out
    logs = tmp_path / "demo" / "build" / "logs"
    assert f"tool logs: {logs}" in out
    assert {"verilator-build-tb_unet.log", "verilator-tb_unet.log", "gcc-csim-native.log",
            "csim-native.log"} <= {p.name for p in logs.iterdir()}
    sim_log = (logs / "verilator-tb_unet.log").read_text()
    assert "test_network passed" in sim_log and "Running tests" not in out + err
    assert max(map(len, sim_log.splitlines())) < 2000, "a frame's bytes were logged whole"
    ladder = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 6 and cells[2] == "NumPy reference":
            ladder[cells[1]] = (int(cells[3].replace(",", "")), int(cells[4]))
    # the FSIC rung runs when a FSIC checkout is set (.ci/run sets one), else the demo says so
    fsic = bool(os.environ.get("FSIC_FPGA_ROOT"))
    assert set(ladder) == {"Brevitas W5A8 (float64)", "C simulation", "RTL (Verilator)",
                           *(["FSIC subsystem (Verilator)"] if fsic else [])}, out
    for rung, (values, mism) in ladder.items():
        assert values > 0 and mism == 0, (rung, values, mism)
    assert ladder["RTL (Verilator)"][0] == 16 * 16  # one image's class map, one byte a pixel
    if fsic:
        assert ladder["FSIC subsystem (Verilator)"][0] == 16 * 16
    else:
        assert "[5/6] FSIC system: skipped, FSIC_FPGA_ROOT is not set" in out
    for f in ("float.pt", "model.json", "model.npz", "model.onnx", "val.npz"):
        assert (tmp_path / "demo" / f).is_file(), f
    assert (tmp_path / "demo" / "build" / "hls").is_dir() and (tmp_path / "demo" / "build" / "rtl").is_dir()
    # the report of this tiny trained run: every file, the JSON's figures equal report.md's
    rep = tmp_path / "demo" / "report"
    assert f"report: {rep / 'report.md'}" in out
    check_report(rep, tmp_path / "demo", rtl=True)
    import json
    rungs = [c["rung"] for c in json.loads((rep / "report.json").read_text())["hardware_checks"]]
    assert rungs == ["reference", "C simulation", "RTL (Verilator)", *(["FSIC subsystem (Verilator)"] if fsic else [])]


def _md_rows(md: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header row starts with `header`."""
    lines = md.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header))
    rows = []
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        rows.append([c.strip() for c in ln.strip("|").split("|")])
    return rows


def check_report(rep, run, rtl: bool):
    """Every file of a report is there, its figures are consistent, and report.md shows exactly
    report.json's figures (formatted by report.fmt)."""
    import json

    from unetaccel.reporting import fmt
    for f in ("report.md", "report.json", "overlays.png", "sqnr.png", "confusion.png", "iou.png"):
        assert (rep / f).is_file() and (rep / f).stat().st_size > 0, f
    fig = json.loads((rep / "report.json").read_text())
    md = (rep / "report.md").read_text()
    for f in ("overlays.png", "sqnr.png", "confusion.png", "iou.png"):
        assert f"]({f})" in md, f
    m = fig["metrics"]
    acc = _md_rows(md, "| model | pixel accuracy")
    assert [r[0] for r in acc] == ["float", "Brevitas W5A8", "simulated hardware (W5A8 integer)"]
    for row, key in zip(acc, ("float", "w5a8", "hardware")):
        assert row[1:] == [fmt(m[key]["pixel_accuracy"]), fmt(m[key]["mean_iou"]), fmt(m[key]["mean_dice"])]
    per = _md_rows(md, "| class | IoU float")
    assert [r[0] for r in per] == fig["classes"]
    for row in per:
        c = row[0]
        assert row[1:] == [fmt(m["float"]["iou"][c]), fmt(m["hardware"]["iou"][c]), fmt(m["float"]["dice"][c]),
                           fmt(m["hardware"]["dice"][c]), fmt(fig["agreement"]["per_class"][c])]
    assert f"**{fmt(fig['agreement']['agree'])}**" in md
    layers = _md_rows(md, "| tensor | op | bits | SQNR dB")
    assert len(layers) == len(fig["layers"]) > 0
    for row, lay in zip(layers, fig["layers"]):
        v = lay["sqnr_db"]
        assert row == [lay["tensor"], lay["op"], str(lay["bits"]), v if isinstance(v, str) else fmt(v, 2)]
    hw = _md_rows(md, "| rung | images")
    assert [r[0] for r in hw] == [c["rung"] for c in fig["hardware_checks"]]
    for row, c in zip(hw, fig["hardware_checks"]):
        assert row[1:4] == [str(c["images"]), str(c["values"]), str(c["mismatches"])] and c["mismatches"] == 0
    # the scores are the confusion matrices' (every labelled pixel of the split counted once)
    net = irmod.load(run / "model.json")
    for key in ("float", "w5a8", "hardware"):
        conf = np.asarray(fig["confusion"][key])
        assert 0 < conf.sum() <= fig["val_images"] * net.size[0] * net.size[1]
        assert abs(np.trace(conf) / conf.sum() - m[key]["pixel_accuracy"]) < 1e-12
    if rtl:
        cy = fig["cycles"]
        assert cy["mean"] > 0 and abs(cy["fps"] - cy["clock_mhz"] * 1e6 / cy["mean"]) < 1e-6
        assert f"**{fmt(cy['mean'], 0)} cycles**" in md and f"**{fmt(cy['fps'], 1)} frames/s**" in md
        assert "RTL (Verilator)" in [c["rung"] for c in fig["hardware_checks"]]
    assert ("Area: no table yet" in md) == bool(fig["area"].get("missing"))


def test_fsicsim_without_a_fsic_checkout_says_how_to_get_one(tmp_path, monkeypatch):
    """No FSIC_FPGA_ROOT, or one that is not a FSIC checkout: exit 2, naming the variable and how to
    get a checkout; nothing is generated."""
    p = irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "run" / "model")
    monkeypatch.delenv("FSIC_FPGA_ROOT", raising=False)
    code, out, err = cli("fsicsim", "--ir", p, "--build", tmp_path / "build", "--random-images")
    assert code == 2, out + err
    assert "FSIC_FPGA_ROOT is not set" in err and "bol-edu/fsic_fpga" in err
    monkeypatch.setenv("FSIC_FPGA_ROOT", str(tmp_path))
    code, out, err = cli("fsicsim", "--ir", p, "--build", tmp_path / "build", "--random-images")
    assert code == 2 and "is not a FSIC checkout" in err and "rtl/user/rtl/fsic.v" in err, out + err
    assert not (tmp_path / "build").exists()


def test_report_bad_input_names_the_culprit(tmp_path):
    """report on a folder without a run, with an unknown rung or no images: exit 2, one error line
    naming the file or the option, nothing written."""
    code, out, err = cli("report", "--run", tmp_path / "nothing")
    assert code == 2 and "float.pt: missing" in err and "unetaccel train" in err, out + err
    code, out, err = cli("report", "--run", tmp_path, "--hw", "ref,fpga")
    assert code == 2 and "--hw 'ref,fpga'" in err, out + err
    code, out, err = cli("report", "--run", tmp_path, "--images", "0")
    assert code == 2 and "--images 0" in err, out + err
    assert not (tmp_path / "report").exists()


def test_fsicsim_bad_level(tmp_path):
    p = irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "run" / "model")
    code, out, err = cli("fsicsim", "--ir", p, "--level", "wafer", "--build", tmp_path / "build")
    assert code == 2 and "--level 'wafer'" in err, out + err
