"""BUILD/fsic as generated (issue 12): USER_PRJ0's ports are exactly FSIC's, with and without
USER_PROJECT_SIDEBAND_SUPPORT; every output is driven and the wrapper lints clean under
Verilator -Wall; rtl.f names existing files; the firmware builds with -Wall -Werror against
FSIC's start-up code and linker script in every configuration main.c offers; generation is
deterministic."""
import os
import re
import subprocess

import pytest

from unetaccel.codegen import fsic_project
from unetaccel.tools import verilator_bin_dir

EXAMPLE = "rtl/user/user_subsys/user_prj/user_prj0/rtl/user_prj0.v"


def _ports(path, sideband: bool) -> list[tuple[str, str, str]]:
    """(direction, width, name) of module USER_PRJ0's ports, after preprocessing."""
    cmd = ["iverilog", "-E", "-o", "/dev/stdout"] + (["-DUSER_PROJECT_SIDEBAND_SUPPORT"] if sideband else [])
    text = subprocess.run([*cmd, str(path)], capture_output=True, text=True, check=True).stdout
    text = re.sub(r"//[^\n]*", "", text)
    header = text[text.index("module USER_PRJ0"):]
    header = header[header.index(")", header.index("#(")) + 1:]  # past the parameters
    ports = header[header.index("(") + 1:header.index(");")]
    out = []
    for decl in ports.split(","):
        m = re.match(r"\s*(input|output)\s+(?:wire|reg)?\s*(\[[^\]]*\])?\s*(\w+)\s*$", decl)
        assert m, f"{path}: cannot read the port declaration {decl!r}"
        out.append((m.group(1), re.sub(r"[\s()]", "", m.group(2) or ""), m.group(3)))
    return out


@pytest.fixture(scope="module")
def fsic_dir(fsic_small):
    from unetaccel.fsic.system import ensure_fsic
    ir_path, build, _ = fsic_small
    return ensure_fsic(ir_path, build)[2]


@pytest.mark.parametrize("sideband", [True, False])
def test_ports_are_fsics(fsic_root, fsic_dir, sideband):
    ours = _ports(fsic_dir / "user_prj0.v", sideband)
    theirs = _ports(fsic_root / EXAMPLE, sideband)
    assert ours == theirs
    assert any(p[2] == "ss_tupsb" for p in ours) == sideband


@pytest.mark.parametrize("sideband", [True, False])
def test_wrapper_lints_clean(fsic_dir, sideband):
    """Verilator -Wall on USER_PRJ0 and the accelerator: no warning (an undriven output or an
    unused input would be one) but the timescale of the .sv files, which have none."""
    srcs = [str((fsic_dir / f).resolve()) for f in fsic_project.RTL_FILES]
    cmd = [str(verilator_bin_dir() / "verilator"), "--lint-only", "-Wall", "-Wno-TIMESCALEMOD", "--top-module",
           "USER_PRJ0", *(["-DUSER_PROJECT_SIDEBAND_SUPPORT"] if sideband else []), *srcs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr


def test_rtl_f_names_our_files(fsic_dir):
    names = (fsic_dir / "rtl.f").read_text().split()
    assert names == list(fsic_project.RTL_FILES)
    for n in names:
        assert (fsic_dir / n).is_file(), n
    assert "module USER_PRJ0" in (fsic_dir / names[0]).read_text()


@pytest.mark.parametrize("opts", ["IMAGES=1 LOGITS=0 WAIT_IRQ=0", "IMAGES=3 LOGITS=1 WAIT_IRQ=1",
                                  "IMAGES=2 LOGITS=0 WAIT_IRQ=2"])
def test_firmware_builds_warning_free(fsic_root, fsic_dir, tmp_path, opts):
    """make in a copy of firmware/ (the build folder is shared): -Wall -Wextra -Werror, rv32i_zicsr,
    FSIC's crt0_vex.S, isr.c and sections.lds."""
    import shutil
    fw = tmp_path / "firmware"
    shutil.copytree(fsic_dir / "firmware", fw)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # not make test's
    r = subprocess.run(["make", "--no-print-directory", f"FSIC_FPGA_ROOT={fsic_root}", *opts.split()], cwd=fw,
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning:" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    for flag in ("-Wall", "-Werror", "-march=rv32i_zicsr", "-mabi=ilp32"):
        assert flag in r.stdout
    hexfile = (fw / "firmware.hex").read_text()
    assert hexfile.startswith("@00000000"), hexfile[:40]


def test_generation_is_deterministic(fsic_small):
    from unetaccel import ir as irmod
    net = irmod.load(fsic_small[0])
    a = fsic_project.emit_fsic(net, (8, 8), "model.json")
    b = fsic_project.emit_fsic(net, (8, 8), "model.json")
    assert a == b
    assert set(a) >= {"user_prj0.v", "rtl.f", "README.md", "firmware/unet_regmap.h", "firmware/unet_driver.h",
                      "firmware/unet_driver.c", "firmware/main.c", "firmware/Makefile", "sim/tb_subsys.v"}
