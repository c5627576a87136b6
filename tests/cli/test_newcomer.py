"""What a newcomer trips on first (issue 21): the version, user errors that name what was passed
(exit 2, one line, before any work), options that do what their help says, torch threads, -v,
and `make demo ARGS=...`."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from unetaccel import __version__
from unetaccel import ir as irmod
from unetaccel.ir import randnet

ROOT = Path(__file__).resolve().parents[2]


def _invoke(*args):
    from typer.testing import CliRunner
    from unetaccel.cli import app
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_error(r, code=2) -> str:
    assert r.exit_code == code, (r.output, r.exception)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output, r.stderr
    return lines[0]


@pytest.fixture
def tiny_ir(tmp_path):
    return irmod.save(randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=1), tmp_path / "run" / "model")


def test_version():
    r = subprocess.run([sys.executable, "-m", "unetaccel.cli", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"unetaccel {__version__}", r.stdout + r.stderr


@pytest.mark.parametrize("name", ["cls.txt", "cls", "cls.jpg"])
def test_infer_out_must_be_a_png(tiny_ir, tmp_path, name):
    import numpy as np
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    r = _invoke("infer", "--ir", tiny_ir, "--image", tmp_path / "x.png", "--out", tmp_path / name)
    line = _one_error(r)
    assert line.startswith(f"error: --out {tmp_path / name}: the class map is written as a PNG picture"), line
    assert not (tmp_path / name).exists()


def test_ir_errors_name_what_was_passed(tiny_ir, tmp_path):
    run = tiny_ir.parent
    line = _one_error(_invoke("inspect", "--ir", run))
    assert line.startswith(f"error: {run}: a folder, not an IR file") and line.endswith(f"its IR is {run / 'model.json'}")
    (tmp_path / "not_ir.txt").write_text("hello\n")
    line = _one_error(_invoke("inspect", "--ir", tmp_path / "not_ir.txt"))
    assert line.startswith(f"error: {tmp_path / 'not_ir.txt'}: not an IR file"), line
    line = _one_error(_invoke("inspect", "--ir", tmp_path / "nothing"))
    assert line.startswith(f"error: {tmp_path / 'nothing'}: no such IR file ({tmp_path / 'nothing.json'} neither)")


def test_report_checks_out_before_any_work(tmp_path):
    """--out under a file: the writability error comes first (before the run's own files are read,
    so before the minute of scoring it used to spend); nothing is made."""
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "afile").write_text("x\n")
    line = _one_error(_invoke("report", "--run", run, "--out", tmp_path / "afile" / "rep"))
    assert line == f"error: --out {tmp_path / 'afile' / 'rep'}: cannot write there: {tmp_path / 'afile'} is a file, not a folder"
    assert list(run.iterdir()) == []


def test_an_unwritable_folder_is_a_user_error(tiny_ir, tmp_path, monkeypatch):
    """A folder the process may not write in (root ignores permission bits, so the check is
    os.access's answer): generate says so and writes nothing."""
    import unetaccel.cli as cli_mod
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(cli_mod.os, "access", lambda p, mode: False if Path(p) == ro else real(p, mode))
    line = _one_error(_invoke("generate", "--ir", tiny_ir, "--out", ro / "build"))
    assert line == f"error: --out {ro / 'build'}: cannot write there: {ro} is not writable", line
    assert list(ro.iterdir()) == []


def test_generate_help_names_every_target():
    r = _invoke("generate", "--help")
    text = " ".join(r.output.split())
    for target in ("BUILD/hls", "BUILD/rtl", "BUILD/fsic", "BUILD/pynq"):
        assert target in text, text
    assert "run_hls.tcl and vivado.tcl" in text


def test_part_reaches_every_script(tiny_ir, tmp_path):
    part = "xc7z010clg400-1"
    r = _invoke("generate", "--ir", tiny_ir, "--part", part, "--out", tmp_path / "b")
    assert r.exit_code == 0, r.output
    for script in ("hls/run_hls.tcl", "rtl/vivado.tcl", "rtl/package_ip.tcl", "pynq/build_bitstream.tcl"):
        text = (tmp_path / "b" / script).read_text()
        assert part in text and "xc7z020" not in text, script


def test_a_lane_shape_beyond_the_part_is_warned_of(tiny_ir, tmp_path):
    """32x32 lanes need 1,024+ multipliers: more than the xc7z020's 220 DSP48E1 (a warning, exit 0), and
    more than FSIC's board leaves (a second one); 8x8 fits and says nothing; the report states the same
    verdict."""
    from unetaccel.codegen.hls_model import part_fit
    r = _invoke("generate", "--ir", tiny_ir, "--lanes", "32x32", "--out", tmp_path / "b32")
    assert r.exit_code == 0, r.output
    warn = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warn) == 2 and "at 32x32 lanes" in warn[0] and "DSP48E1 of the part's 220" in warn[0], r.stderr
    assert "does not fit the part" in warn[0]
    # and beside FSIC's own logic on its board (codegen.fsic_fit): the budget left and a shape that fits
    assert warn[1].startswith("warning: at 32x32 lanes (--mult dsp) the accelerator needs ") and \
        "for user project 0 on FSIC's board" in warn[1] and re.search(r"--lanes \d+x\d+ --mult dsp2? fits$", warn[1])
    r = _invoke("generate", "--ir", tiny_ir, "--lanes", "8x8", "--out", tmp_path / "b8")
    assert r.exit_code == 0 and "warning" not in r.stderr, r.output
    net = irmod.load(tiny_ir)
    assert part_fit(net, (32, 32))["over"] and not part_fit(net, (8, 8))["over"]


def test_threads_option(tiny_ir, monkeypatch):
    monkeypatch.setenv("UNETACCEL_THREADS", "2")  # restored after the test
    assert _invoke("--threads", "3", "inspect", "--ir", tiny_ir).exit_code == 0
    assert os.environ["UNETACCEL_THREADS"] == "3"
    r = _invoke("--threads", "0", "inspect", "--ir", tiny_ir)
    text = " ".join(r.output.replace("│", " ").split())
    assert r.exit_code == 2 and "--threads 0: the number of threads must be a positive integer" in text, text


def test_a_bad_threads_variable_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETACCEL_THREADS", "many")
    line = _one_error(_invoke("train", "--epochs", "1", "--widths", "4,8", "--size", "16x16", "--train-length", "8",
                              "--val-length", "4", "--out", tmp_path / "run"))
    assert line == "error: UNETACCEL_THREADS=many: the number of threads must be a positive integer"


def test_verbose_shows_the_detail_lines(tmp_path):
    """train prints its result table either way; the epoch lines and the libraries' warnings only with -v."""
    args = ["train", "--epochs", "1", "--widths", "4,8", "--size", "16x16", "--train-length", "8", "--val-length", "4"]
    quiet = subprocess.run([sys.executable, "-m", "unetaccel.cli", *args, "--out", str(tmp_path / "q")],
                           capture_output=True, text=True)
    loud = subprocess.run([sys.executable, "-m", "unetaccel.cli", "-v", *args, "--out", str(tmp_path / "v")],
                          capture_output=True, text=True)
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr + loud.stderr
    assert "train epoch 1/1:" in loud.stdout + loud.stderr
    assert "train epoch" not in quiet.stdout + quiet.stderr and "Warning" not in quiet.stderr, quiet.stderr
    assert "wrote" in quiet.stdout and "pixel accuracy" in quiet.stdout


def test_make_demo_passes_args():
    r = subprocess.run(["make", "--no-print-directory", "-n", "-o", ".venv/.unetaccel-installed", "demo",
                        "ARGS=--epochs 2 --size 32x32"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].endswith("unetaccel demo --out runs/demo --epochs 2 --size 32x32"), r.stdout
