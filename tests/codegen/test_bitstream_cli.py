"""`unetaccel bitstream` (torch-free): without Vivado it writes the folders and exits 2 naming
Vivado and where the scripts are; with a `vivado` on the PATH (a stand-in script here) it runs
`vivado -mode batch -source build_bitstream.tcl` in BUILD/pynq, its output in BUILD/logs/vivado.log;
a failed Vivado run exits 2 naming the log; --hls needs the exported HLS IP and says how to make it."""
import json
import os
import stat

import pytest
from typer.testing import CliRunner

from unetaccel import ir as irmod
from unetaccel.cli import app
from unetaccel.codegen.pynq_project import HLS_IP_REPO, vlnv
from unetaccel.ir import randnet

FAKE_VIVADO = """#!/bin/sh
echo "fake vivado $*"
[ "$FAKE_VIVADO_FAIL" = 1 ] && { echo "ERROR: [Synth 8-4445] could not open \\$readmem data file"; exit 1; }
printf bit > unet.bit
printf '<EDKSYSTEM/>' > unet.hwh
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=3)
    return irmod.save(net, tmp_path_factory.mktemp("run") / "model")


def _invoke(path_dir, *args, env=None):
    runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args], env={"PATH": str(path_dir), "COLUMNS": "200", **(env or {})})


def _fake_vivado(folder):
    folder.mkdir(parents=True, exist_ok=True)
    v = folder / "vivado"
    v.write_text(FAKE_VIVADO)
    v.chmod(v.stat().st_mode | stat.S_IEXEC)
    return folder


def test_without_vivado_writes_the_scripts_and_exits_2(model, tmp_path):
    build = tmp_path / "BUILD"
    r = _invoke(tmp_path / "empty", "bitstream", "--ir", model, "--build", build, "--lanes", "8x4")
    assert r.exit_code == 2, r.output
    err = r.stderr
    assert "error: Vivado ('vivado') is not on the PATH" in err and str(build / "pynq") in err
    assert "vivado -mode batch -source build_bitstream.tcl" in err
    lines = r.stdout.splitlines()
    assert lines[0].startswith("[1/3] RTL in") and lines[1].startswith("[2/3] PYNQ-Z2 block design")
    for f in ("rtl/package_ip.tcl", "pynq/build_bitstream.tcl", "pynq/pynq_z2_bd.tcl", "pynq/unet.hwh",
              "pynq/unet_accel.json"):
        assert (build / f).is_file(), f
    assert json.loads((build / "pynq" / "unet_accel.json").read_text())["lanes"] == [8, 4]
    assert not (build / "hls").exists()


def test_runs_vivado_in_batch_mode_and_logs_it(model, tmp_path):
    build = tmp_path / "BUILD"
    r = _invoke(_fake_vivado(tmp_path / "bin"), "bitstream", "--ir", model, "--build", build)
    assert r.exit_code == 0, r.output
    log = (build / "logs" / "vivado.log").read_text()
    assert "fake vivado -mode batch -nojournal -nolog -source build_bitstream.tcl" in log
    assert (build / "pynq" / "unet.bit").read_text() == "bit"
    assert r.stdout.splitlines()[-1].startswith(f"wrote {build / 'pynq' / 'unet.bit'}")
    assert "[3/3] Vivado in batch mode" in r.stdout and str(build / "logs" / "vivado.log") in r.stdout


def test_a_failed_vivado_run_names_its_log(model, tmp_path):
    build = tmp_path / "BUILD"
    r = _invoke(_fake_vivado(tmp_path / "bin"), "bitstream", "--ir", model, "--build", build,
                env={"FAKE_VIVADO_FAIL": "1"})
    assert r.exit_code == 2
    assert "Vivado failed (exit code 1)" in r.stderr and str(build / "logs" / "vivado.log") in r.stderr
    assert "Synth 8-4445" in r.stderr  # the log's last lines


def test_hls_needs_the_exported_ip(model, tmp_path):
    build = tmp_path / "BUILD"
    r = _invoke(_fake_vivado(tmp_path / "bin"), "bitstream", "--ir", model, "--build", build, "--hls")
    assert r.exit_code == 2
    assert "vitis-run --mode hls --tcl run_hls.tcl" in r.stdout and "vitis-run --mode hls --tcl run_hls.tcl" in r.stderr
    assert (build / "hls" / "run_hls.tcl").is_file() and not (build / "rtl").exists()
    assert json.loads((build / "pynq" / "unet_accel.json").read_text())["vlnv"] == vlnv(True)
    (build / "hls" / HLS_IP_REPO).mkdir(parents=True)
    (build / "hls" / HLS_IP_REPO / "component.xml").write_text("<stub/>")
    r = _invoke(tmp_path / "bin", "bitstream", "--ir", model, "--build", build, "--hls")
    assert r.exit_code == 0, r.output


def test_bad_input_is_refused_before_writing(model, tmp_path):
    build = tmp_path / "BUILD"
    r = _invoke(tmp_path / "empty", "bitstream", "--ir", model, "--build", build, "--lanes", "3x8")
    assert r.exit_code == 2 and "--lanes" in r.stderr and not build.exists()
    afile = tmp_path / "afile"
    afile.write_text("")
    r = _invoke(tmp_path / "empty", "bitstream", "--ir", model, "--build", afile / "b")
    assert r.exit_code == 2 and "--build" in r.stderr
    assert os.path.isfile(afile)
