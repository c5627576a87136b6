"""The Vitis HLS flow of run_hls.tcl, checked as far as g++ can: the tcl is run by a real Tcl
interpreter (the vendor commands stubbed to record their arguments), then exactly the files and
-cflags it gives add_files are compiled with g++ (plus the ap_types include folder Vitis adds
itself) and the testbench runs with the -argv of csim_design and of cosim_design."""
import os
import shlex
import subprocess

import numpy as np
import pytest

from unetaccel import ir as irmod
from unetaccel.hls import csim
from unetaccel.ir import randnet
from unetaccel.tools import ap_types_include, cxx, tcl_interpreter

VENDOR_COMMANDS = ("open_project", "set_top", "open_solution", "set_part", "create_clock", "csynth_design",
                   "export_design", "exit")

# Stand-in for Vitis HLS' ap_axi_sdata.h (not shipped with hls4ml): hls::axis with the vendor's
# member names and widths (user/id/dest disabled for widths 0), so that the generated code's
# vendor branch (__has_include("ap_axi_sdata.h")) compiles and runs here too.
AXI_SDATA_STANDIN = """#ifndef TEST_STANDIN_AP_AXI_SDATA_H
#define TEST_STANDIN_AP_AXI_SDATA_H
#include <cstddef>
#include "ap_int.h"
#include "hls_stream.h"
namespace hls {
struct axis_disabled_signal {};
template <typename T, std::size_t WUser, std::size_t WId, std::size_t WDest>
struct axis {
    T data;
    ap_uint<(T::width + 7) / 8> keep;
    ap_uint<(T::width + 7) / 8> strb;
    axis_disabled_signal user;
    ap_uint<1> last;
    axis_disabled_signal id;
    axis_disabled_signal dest;
};
}  // namespace hls
#endif
"""


def run_tcl(project):
    """Source run_hls.tcl in a Tcl interpreter with the vendor commands stubbed; returns the
    add_files calls (lists of words) and the csim_design / cosim_design arguments."""
    tcl = tcl_interpreter()  # a missing Tcl raises ToolMissing saying what to install, never a skip
    tcl.eval("set ::files {}; set ::csim {}; set ::cosim {}")
    tcl.eval("proc add_files {args} { lappend ::files $args }")
    tcl.eval("proc csim_design {args} { set ::csim $args }")
    tcl.eval("proc cosim_design {args} { set ::cosim $args }")
    for cmd in VENDOR_COMMANDS:
        tcl.eval(f"proc {cmd} {{args}} {{}}")
    here = os.getcwd()
    try:  # Tcl's cd is the process's: come back
        tcl.eval(f"cd {{{project}}}; source run_hls.tcl")
    finally:
        os.chdir(here)
    files = [list(tcl.splitlist(f)) for f in tcl.splitlist(tcl.eval("set ::files"))]
    return files, list(tcl.splitlist(tcl.eval("set ::csim"))), list(tcl.splitlist(tcl.eval("set ::cosim")))


def _argv(args):
    return shlex.split(args[args.index("-argv") + 1])


def build_tcl_flow(project, include_dirs):
    """g++ the design and testbench files with the -cflags run_hls.tcl gives each; returns the
    executable."""
    files, _, _ = run_tcl(project)
    objs = []
    for words in files:
        tb = "-tb" in words
        rest = [w for w in words if w != "-tb"]
        cflags = shlex.split(rest[rest.index("-cflags") + 1]) if "-cflags" in rest else []
        srcs = [w for i, w in enumerate(rest) if w != "-cflags" and (i == 0 or rest[i - 1] != "-cflags")]
        for src in srcs:
            assert (project / src).exists(), src
            obj = f"{src}.tclflow.o"
            cmd = [cxx(), "-std=c++14", "-O2", "-c", src, *cflags,
                   *[a for d in include_dirs for a in ("-isystem", str(d))], "-o", obj]
            r = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
            assert r.returncode == 0, (" ".join(cmd), r.stderr[-3000:])
            objs.append((obj, tb))
    assert sorted(o for o, tb in objs if not tb) == ["unet_top.cpp.tclflow.o", "unet_weights.cpp.tclflow.o"]
    assert [o for o, tb in objs if tb] == ["tb_unet.cpp.tclflow.o"]
    r = subprocess.run([cxx(), *[o for o, _ in objs], "-o", "tb_tclflow"], cwd=project, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return project / "tb_tclflow"


@pytest.fixture(scope="module")
def csim_project(tmp_path_factory):
    """A small random network's project after `unetaccel csim --images 3` (data/ filled)."""
    tmp = tmp_path_factory.mktemp("tclflow")
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 16), seed=31)
    p = irmod.save(net, tmp / "run" / "model")
    csim.run(p, tmp / "build", images=5, modes=("native",), random_images=True, seed=31)
    csim.run(p, tmp / "build", images=3, modes=("native",), random_images=True, seed=32)  # fewer: stale files go
    return tmp / "build" / "hls"


def test_run_hls_tcl_derives_images_and_keeps_the_trace_out(csim_project):
    files, csim_args, cosim_args = run_tcl(csim_project)
    data = str((csim_project / "data").resolve())
    assert _argv(csim_args) == [data, "3", "protocol"]  # as many images as data/ holds
    assert _argv(cosim_args) == [data, "1"]
    for words in files:  # one set of flags for design and testbench, no per-layer trace
        if words[-2:-1] == ["-cflags"]:
            assert words[-1] == "-DUNET_AP_TYPES", words
    assert sorted(p.name for p in (csim_project / "data").glob("img_*.bin")) == ["img_0.bin", "img_1.bin",
                                                                                   "img_2.bin"]


@pytest.mark.parametrize("vendor_axis", [True, False], ids=["ap_axi_sdata", "no_ap_axi_sdata"])
def test_run_hls_tcl_csim_and_cosim_testbench_are_exact(csim_project, vendor_axis, tmp_path):
    includes = [ap_types_include()]
    if vendor_axis:
        (tmp_path / "ap_axi_sdata.h").write_text(AXI_SDATA_STANDIN)
        includes.append(tmp_path)
    exe = build_tcl_flow(csim_project, includes)
    _, csim_args, cosim_args = run_tcl(csim_project)
    for args in (_argv(csim_args), _argv(cosim_args)):
        r = subprocess.run([str(exe), *args], cwd=csim_project, capture_output=True, text=True)
        out = r.stdout
        assert r.returncode == 0 and out.strip().splitlines()[-1] == "csim mismatches: 0", out[-3000:] + r.stderr
        assert "per-layer trace not compiled in" in out and "TENSOR" not in out and "never produced" not in out
        assert out.count("STREAM result equal") == int(args[1]) and out.count("REG after_run equal 9") == int(args[1])
        assert ("ap_axi_sdata.h)" in out) == vendor_axis, out.splitlines()[0]
        if "protocol" in args:
            assert out.count("PROTOCOL") == 7 and "MISMATCH" not in out


def test_trace_flags_must_agree(csim_project, tmp_path):
    """A testbench built with -DUNET_TRACE and a top built without it fail to link (instead of
    reporting every tensor as never produced)."""
    inc = ["-isystem", str(ap_types_include())]
    cmds = [[cxx(), "-std=c++14", "-c", "tb_unet.cpp", "-DUNET_AP_TYPES", "-DUNET_TRACE", *inc, "-o", str(tmp_path / "tb.o")],
            [cxx(), "-std=c++14", "-c", "unet_top.cpp", "-DUNET_AP_TYPES", *inc, "-o", str(tmp_path / "top.o")],
            [cxx(), "-std=c++14", "-c", "unet_weights.cpp", "-DUNET_AP_TYPES", *inc, "-o", str(tmp_path / "w.o")]]
    for cmd in cmds:
        assert subprocess.run(cmd, cwd=csim_project).returncode == 0
    r = subprocess.run([cxx(), str(tmp_path / "tb.o"), str(tmp_path / "top.o"), str(tmp_path / "w.o"), "-o",
                        str(tmp_path / "tb")], capture_output=True, text=True)
    assert r.returncode != 0 and "unet_trace_compiled" in r.stderr


def test_data_holds_what_csim_wrote(csim_project):
    ref = np.fromfile(csim_project / "data" / "ref_0.bin", dtype="<i8")
    assert ref.size > 0 and not (csim_project / "data" / "img_3.bin").exists()


def test_synthesis_view_is_exact(csim_project, tmp_path):
    """The design files as Vitis synthesizes them: __SYNTHESIS__ defined (every UNET_PRAGMA a real
    `#pragma HLS`, every loop label, blocking stream reads, the vendor hls::axis) with
    -DUNET_AP_TYPES (ap_int of the exact widths, the ROMs as generated). hls4ml's ap_types refuse
    __SYNTHESIS__, so a wrapper includes them first and then defines it for our sources. g++
    compiles them warning-free but for the HLS pragmas and loop labels it has no use for, and the
    testbench (csim's view) linked against them gets every image exact."""
    (tmp_path / "ap_axi_sdata.h").write_text(AXI_SDATA_STANDIN)
    inc = ["-isystem", str(ap_types_include()), "-isystem", str(tmp_path), "-I", str(csim_project)]
    objs = []
    for src, synth in (("unet_top.cpp", True), ("unet_weights.cpp", True), ("tb_unet.cpp", False)):
        unit = src
        if synth:
            unit = str(tmp_path / f"synth_{src}")
            (tmp_path / f"synth_{src}").write_text('#include "ap_int.h"\n#include "hls_stream.h"\n'
                                                  f'#define __SYNTHESIS__\n#include "{src}"\n')
        obj = str(tmp_path / f"{src}.o")
        cmd = [cxx(), "-std=c++14", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-uninitialized",
               "-Wno-maybe-uninitialized", "-Wno-unknown-pragmas", "-Wno-unused-label", "-DUNET_AP_TYPES", *inc,
               "-c", unit, "-o", obj]
        r = subprocess.run(cmd, cwd=csim_project, capture_output=True, text=True)
        assert r.returncode == 0, (" ".join(cmd), r.stderr[-3000:])
        objs.append(obj)
    # the pragmas are there for Vitis: a pipelined loop a layer kind, the memories bound, ap_vld status
    src = subprocess.run([cxx(), "-std=c++14", "-E", "-DUNET_AP_TYPES", *inc, str(tmp_path / "synth_unet_top.cpp")],
                         cwd=csim_project, capture_output=True, text=True).stdout
    assert src.count("#pragma HLS PIPELINE II=1") >= 6 and "#pragma HLS BIND_STORAGE variable=amem0" in src
    assert "MAC:" in src and "IMG_IN:" in src and "#pragma HLS INTERFACE ap_vld port=error" in src
    exe = tmp_path / "tb_synth"
    r = subprocess.run([cxx(), *objs, "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    n = len(list((csim_project / "data").glob("img_*.bin")))
    r = subprocess.run([str(exe), "data", str(n)], cwd=csim_project, capture_output=True, text=True)
    out = r.stdout
    assert r.returncode == 0 and out.strip().splitlines()[-1] == "csim mismatches: 0", out[-3000:] + r.stderr
    assert out.count("STREAM result equal") == n and "ap_axi_sdata.h" in out.splitlines()[0]
