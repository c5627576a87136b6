"""BUILD/rtl/vivado.tcl, checked without Vivado: a real Tcl interpreter sources it with Vivado's
commands stubbed to record their arguments (as tests/hls/test_vendor_flow.py does for
run_hls.tcl), from a folder other than its own. It must read every generated SystemVerilog
source (the design ones with -sv, the cocotb wrapper into the simulation fileset), add every
.mem file that the sources $readmemh, set the top unet_accel and the PYNQ-Z2's part."""
import os
import re

import pytest

from unetaccel.codegen.rtl_project import emit_rtl, generate_rtl
from unetaccel.ir import randnet
from unetaccel.tools import tcl_interpreter

STUBS = ("create_project", "set_msg_config", "read_verilog", "add_files", "set_property", "current_fileset", "update_compile_order",
         "launch_runs", "wait_on_run", "open_run", "report_utilization")


def source_vivado_tcl(rtl_dir, tclargs=()):
    """Source vivado.tcl from the test's folder (not the script's; argv: -tclargs); returns the
    stubbed commands it called, in order, each as a list of words (a list argument, as Vivado
    takes the files, spread into its elements)."""
    tcl = tcl_interpreter()  # a missing Tcl raises ToolMissing saying what to install, never a skip
    for cmd in STUBS:
        tcl.eval(f"proc {cmd} {{args}} {{ lappend ::calls [linsert $args 0 {cmd}]; return sources_1 }}")
    tcl.eval(f"set ::calls {{}}; set ::argv {{{' '.join(tclargs)}}}; source {{{rtl_dir / 'vivado.tcl'}}}")
    return [[w for arg in tcl.splitlist(c) for w in tcl.splitlist(arg)] for c in tcl.splitlist(tcl.eval("set ::calls"))]


def _calls(calls, name):
    return [c[1:] for c in calls if c[0] == name]


def _files(words, rtl_dir):
    """The file arguments of a call: each must be an existing file of the generated folder; their names."""
    paths = [w for w in words if not w.startswith("-") and w not in ("sim_1",)]
    for p in paths:
        assert os.path.isabs(p) and os.path.dirname(p) == str(rtl_dir) and os.path.isfile(p), p
    return [os.path.basename(p) for p in paths]


@pytest.fixture(scope="module")
def rtl_dir(tmp_path_factory):
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=5)
    out = tmp_path_factory.mktemp("vivado") / "build" / "rtl"
    generate_rtl(net, out, lanes=(8, 4))
    return out.resolve(), net


def test_vivado_tcl_names_every_source_and_mem_file(rtl_dir):
    out, net = rtl_dir
    assert os.getcwd() != str(out)  # sourced from another folder: the paths are the script's
    calls = source_vivado_tcl(out)
    generated = set(emit_rtl(net, (8, 4)))
    sources = {f for f in generated if f.endswith(".sv")}
    mems = {f for f in generated if f.endswith(".mem")}
    assert len(sources) == 4 and len(mems) == 3, generated  # weights, BatchNorm parameters, layer table

    (create,) = _calls(calls, "create_project")
    assert create[create.index("-part") + 1] == "xc7z020clg400-1" and "-force" in create
    read = _calls(calls, "read_verilog")
    assert all(r[0] == "-sv" for r in read), read
    design = [f for r in read for f in _files(r[1:], out)]
    added = _calls(calls, "add_files")
    sim = [f for a in added if "sim_1" in a for f in _files(a, out)]
    added_mems = [f for a in added if "sim_1" not in a for f in _files(a, out)]
    assert sorted(design + sim) == sorted(sources) and sim == ["tb_unet.sv"]
    assert sorted(added_mems) == sorted(mems)
    readmem = {m for f in sources for m in re.findall(r'\$readmemh\("([^"]+)"', (out / f).read_text())}
    assert readmem and readmem <= set(added_mems), readmem
    assert ["top", "unet_accel", "sources_1"] in _calls(calls, "set_property")
    assert not _calls(calls, "launch_runs")  # synthesis only on request
    # a memory image synthesis cannot open is an error, not a critical warning
    assert ["-id", "Synth", "8-4445", "-new_severity", "ERROR"] in _calls(calls, "set_msg_config")  # words spread


def test_vivado_tcl_takes_a_part_and_synth(rtl_dir):
    out, _ = rtl_dir
    calls = source_vivado_tcl(out, ("xc7z010clg400-1", "synth"))
    (create,) = _calls(calls, "create_project")
    assert create[create.index("-part") + 1] == "xc7z010clg400-1"
    assert [c[0] for c in calls][-4:] == ["launch_runs", "wait_on_run", "open_run", "report_utilization"]
    (rep,) = _calls(calls, "report_utilization")
    assert rep == ["-file", str(out / "utilization.rpt")]
