"""BUILD/fsic as generated (issue 12): USER_PRJ0's ports are exactly FSIC's, with and without
USER_PROJECT_SIDEBAND_SUPPORT; every output is driven and the wrapper lints clean under
Verilator -Wall; rtl.f names existing files; the firmware builds with -Wall -Werror against
FSIC's start-up code and linker script in every configuration main.c offers, rebuilds when an
option changes, and cleans without a checkout; generation is deterministic."""
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


def _make(fw, *args, root=None):
    """make in fw (FSIC_FPGA_ROOT=root when given, else unset in the environment)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "FSIC_FPGA_ROOT")}  # not make test's
    return subprocess.run(["make", "--no-print-directory", *([f"FSIC_FPGA_ROOT={root}"] if root else []), *args],
                          cwd=fw, capture_output=True, text=True, env=env)


@pytest.fixture
def fw_copy(fsic_dir, tmp_path):
    """A copy of firmware/ (the build folder is shared)."""
    import shutil
    fw = tmp_path / "firmware"
    shutil.copytree(fsic_dir / "firmware", fw)
    return fw


@pytest.mark.parametrize("opts", ["IMAGES=1 LOGITS=0 WAIT_IRQ=0", "IMAGES=3 LOGITS=1 WAIT_IRQ=1",
                                  "IMAGES=2 LOGITS=0 WAIT_IRQ=2", "IMAGES=3 WAIT_IRQ=ipi TIMEOUT=2000"])
def test_firmware_builds_warning_free(fsic_root, fw_copy, opts):
    """make in a copy of firmware/: -Wall -Wextra -Werror, rv32i_zicsr, FSIC's crt0_vex.S, isr.c
    and sections.lds."""
    r = _make(fw_copy, *opts.split(), root=fsic_root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning:" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    for flag in ("-Wall", "-Werror", "-march=rv32i_zicsr", "-mabi=ilp32"):
        assert flag in r.stdout
    hexfile = (fw_copy / "firmware.hex").read_text()
    assert hexfile.startswith("@00000000"), hexfile[:40]


def test_board_firmware_builds_warning_free(fsic_root, fw_copy):
    """`make board.hex`: the board's program (board.c), the same flags; BOARD_TIMEOUT checked and in
    the options."""
    r = _make(fw_copy, "board.hex", "BOARD_TIMEOUT=20", root=fsic_root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning:" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    assert "-DUNET_BOARD_TIMEOUT=20u" in r.stdout and "board.c" in r.stdout
    assert (fw_copy / "board.hex").read_text().startswith("@00000000")
    assert "BOARD_TIMEOUT=20" in (fw_copy / "options.stamp").read_text()
    r = _make(fw_copy, "board.hex", "BOARD_TIMEOUT=2x", root=fsic_root)
    assert r.returncode != 0 and "BOARD_TIMEOUT=2x" in r.stdout + r.stderr


def test_firmware_rebuilds_when_an_option_changes(fsic_root, fw_copy):
    """The build depends on the options (options.stamp): the same options build nothing again,
    another value of any option rebuilds, and so does going back."""
    def build(*opts):
        r = _make(fw_copy, *opts, root=fsic_root)
        assert r.returncode == 0, r.stdout + r.stderr
        return "riscv64-unknown-elf-gcc" in r.stdout

    base = ("IMAGES=2", "LOGITS=0", "WAIT_IRQ=ipi", "TIMEOUT=1000")
    assert build(*base)
    assert not build(*base)
    for i, other in enumerate(("IMAGES=3", "LOGITS=1", "WAIT_IRQ=pip", "TIMEOUT=1001")):
        opts = (*base[:i], other, *base[i + 1:])
        assert build(*opts), other
        assert not build(*opts), other
        assert build(*base), other
    assert "WAIT=ipi" in (fw_copy / "options.stamp").read_text()
    assert build("WAIT_IRQ=2", "IMAGES=2", "TIMEOUT=1000")  # 2 is the pattern pi
    assert "WAIT=pi " in (fw_copy / "options.stamp").read_text()


def test_firmware_clean_needs_no_checkout(fsic_root, fw_copy):
    """`make clean` works without FSIC_FPGA_ROOT; a build without it stops with a message naming
    it, as does a bad option."""
    r = _make(fw_copy, root=fsic_root)
    assert r.returncode == 0 and (fw_copy / "firmware.hex").is_file(), r.stdout + r.stderr
    r = _make(fw_copy, "clean")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not any((fw_copy / f).exists() for f in ("firmware.hex", "firmware.elf", "options.stamp"))
    r = _make(fw_copy)
    assert r.returncode != 0 and "set FSIC_FPGA_ROOT" in r.stderr, r.stdout + r.stderr
    for bad, says in (("WAIT_IRQ=ixp", "WAIT_IRQ=ixp"), ("WAIT_IRQ=", "WAIT_IRQ="), ("TIMEOUT=5x", "TIMEOUT=5x")):
        r = _make(fw_copy, bad, root=fsic_root)
        assert r.returncode != 0 and says in r.stderr, (bad, r.stderr)


def test_generation_is_deterministic(fsic_small):
    from unetaccel import ir as irmod
    net = irmod.load(fsic_small[0])
    a = fsic_project.emit_fsic(net, (8, 8), "model.json")
    b = fsic_project.emit_fsic(net, (8, 8), "model.json")
    assert a == b
    assert set(a) >= {"user_prj0.v", "rtl.f", "README.md", "firmware/unet_regmap.h", "firmware/unet_driver.h",
                      "firmware/unet_driver.c", "firmware/main.c", "firmware/Makefile", "sim/tb_subsys.v"}
