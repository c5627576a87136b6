"""BUILD/fsic/vivado/fsic_board.tcl run under Tcl's own shell with Vivado's commands stubbed,
from another folder, on the checkout's own vivado/vvd_caravel_fpga_fsic.tcl (FSIC_FPGA_ROOT): the
script finds every place of FSIC's script it changes, FSIC's script then runs to its end with our
changes, and what it asked of Vivado is checked: every file added exists, the example user
project 0 is gone and ours is there (one USER_PRJ0), every connection names pins that exist on its
cells (ps_axil's from its Verilog header, the Xilinx IP's from their product guides: PG021 for the
AXI DMA, PG099 axi_intc, the xlconcat/xlconstant and interconnect port names), no input is
driven twice, the ARM's address map has no overlap and agrees with fsic_board.json, and the
bitstream and handoff are copied beside the script. A changed FSIC script (an anchor missing)
stops the run with a message naming it. No Vivado run confirms any of this (docs/fsic_board.md)."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from unetaccel.codegen import fsic_board as fb
from unetaccel.fsic.system import ensure_fsic
from unetaccel.tools import tclsh

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from verilog_ports import module_ports  # noqa: E402 (tests/verilog_ports.py)

STUBS = r"""
set ::calls [open $::env(UNET_CALLS) w]
fconfigure $::calls -translation lf -encoding utf-8
proc rec {args} { puts -nonewline $::calls "[join $args \x1f]\x1e"; flush $::calls }
set ::cells [dict create]
set ::argc 0
set ::argv {}
proc create_project {args} { rec create_project {*}$args; return [lindex $args 0] }
proc current_project {args} { return proj }
proc set_msg_config {args} { rec set_msg_config {*}$args }
proc create_fileset {args} { return [lindex $args end] }
proc get_filesets {args} { return [lindex $args end] }
proc update_ip_catalog {args} {}
proc update_compile_order {args} {}
proc add_files {args} {
    set i [lsearch $args -fileset]
    if {$i >= 0} { set args [lreplace $args $i [expr {$i + 1}]] }
    foreach a $args { foreach f $a { if {![string match -* $f]} { rec add_file $f } } }
}
proc import_files {args} { rec import_files {*}$args }
proc get_files {args} { return [lindex $args end] }
proc set_property {args} {
    if {[lindex $args 0] eq "-dict"} {
        foreach {k v} [lindex $args 1] { rec config [lindex $args 2] $k $v }
    } else { rec set_property {*}$args }
}
proc get_property {prop obj} {
    switch -- $prop {
        directory { return [pwd] }
        TYPE { return hier }
        IS_LOCKED { return 0 }
        PROGRESS { return "100%" }
        DIRECTORY { return [file join [pwd] runs $obj] }
    }
    error "stub: no property $prop of $obj"
}
namespace eval common { proc send_gid_msg {args} { if {[lsearch $args ERROR] >= 0} { error "stub: [lindex $args end]" } } }
proc get_ipdefs {args} { return [lindex $args end] }
proc can_resolve_reference {m} { return 1 }
proc get_bd_cells {args} {
    set name [lindex $args end]
    if {$name eq "/"} { return / }
    if {![dict exists $::cells $name]} { error "stub: no cell $name" }
    return $name
}
proc current_bd_instance {args} { return / }
proc create_bd_design {name} { rec create_bd_design $name }
proc create_bd_intf_port {args} { return [lindex $args end] }
proc get_bd_intf_ports {name} { return $name }
proc create_bd_cell {args} {
    set name [lindex $args end]
    if {[dict exists $::cells $name]} { error "stub: cell $name created twice" }
    set i [lsearch $args -vlnv]
    if {$i < 0} { set i [lsearch $args -reference] }
    dict set ::cells $name [lindex $args [expr {$i + 1}]]
    rec create_bd_cell [lindex $args [expr {$i + 1}]] $name
    return $name
}
proc check_pin {pin} {
    set cell [lindex [split $pin /] 0]
    if {![dict exists $::cells $cell]} { error "stub: pin $pin: no cell $cell" }
    return $pin
}
proc get_bd_intf_pins {pin} { return [check_pin $pin] }
proc get_bd_pins {pin} { return [check_pin $pin] }
proc connect_bd_intf_net {args} {
    if {[lindex $args 0] eq "-intf_net"} { set args [lrange $args 2 end] }
    rec connect_bd_intf_net {*}$args
}
proc connect_bd_net {args} {
    if {[lindex $args 0] eq "-net"} { set args [lrange $args 2 end] }
    rec connect_bd_net {*}$args
}
proc get_bd_addr_spaces {name} { return $name }
proc get_bd_addr_segs {name} { check_pin $name; return $name }
proc assign_bd_address {args} { rec assign_bd_address {*}$args; return SEG }
proc validate_bd_design {args} { rec validate_bd_design }
proc save_bd_design {args} {}
proc close_bd_design {args} {}
proc make_wrapper {args} {
    set f [file join [pwd] design_1_wrapper.v]
    set fh [open $f w]; puts $fh "module design_1_wrapper; endmodule"; close $fh
    return $f
}
proc get_param {args} { return "" }
proc set_param {args} {}
proc get_runs {args} { return [lindex $args end] }
proc create_run {args} {}
proc current_run {args} {}
proc get_report_configs {args} { return cfg }
proc create_report_config {args} {}
proc get_dashboard_gadgets {args} { return g }
proc create_dashboard_gadget {args} {}
proc move_dashboard_gadget {args} {}
proc launch_runs {run args} {
    rec launch_runs $run {*}$args
    file mkdir [file join [pwd] runs $run]
    set fh [open [file join [pwd] runs $run design_1_wrapper.bit] w]; puts $fh bit; close $fh
    set h [file join [pwd] vvd_caravel_fpga vvd_caravel_fpga.gen sources_1 bd design_1 hw_handoff]
    file mkdir $h
    set fh [open [file join $h design_1.hwh] w]; puts $fh hwh; close $fh
}
proc wait_on_run {args} {}
proc open_run {args} {}
proc report_timing_summary {args} {}
"""


def run_board(script: Path, workdir: Path, root: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    calls = workdir / "calls.txt"
    driver = workdir / "driver.tcl"
    driver.write_text(STUBS + f"\nif {{[catch {{source {{{script}}}}} err]}} {{ puts stderr \"ERROR: $err\"; exit 1 }}\n")
    env = {"PATH": "/usr/bin:/bin", "UNET_CALLS": str(calls), "FSIC_FPGA_ROOT": str(root)}
    r = subprocess.run([str(tclsh()), str(driver)], cwd=workdir, capture_output=True, text=True, env=env, timeout=120)
    text = calls.read_text(encoding="utf-8") if calls.exists() else ""
    return r, [c.split("\x1f") for c in text.split("\x1e") if c]


@pytest.fixture(scope="module")
def board(fsic_root, fsic_small, tmp_path_factory):
    ir_path, build, _ = fsic_small
    fsic_dir = ensure_fsic(ir_path, build)[2]
    tmp = tmp_path_factory.mktemp("board")
    shutil.copytree(fsic_dir.parent, tmp / "BUILD", ignore=shutil.ignore_patterns("sim_build", "*.lock", "*.vvp"))
    script = tmp / "BUILD/fsic/vivado" / fb.TCL
    r, calls = run_board(script, tmp / "elsewhere", fsic_root)
    assert r.returncode == 0, r.stderr[-3000:]
    return {"calls": calls, "dir": script.parent, "json": json.loads((script.parent / fb.JSON).read_text()),
            "root": fsic_root, "stdout": r.stdout}


def _named(calls, name):
    return [c[1:] for c in calls if c[0] == name]


def _config(calls):
    cfg = {}
    for cell, k, v in _named(calls, "config"):
        cfg.setdefault(cell, {})[k.removeprefix("CONFIG.")] = v
    return cfg


def _pins(board) -> dict[str, set[str]]:
    """The pins and interface pins of every cell we connect to, as the IP (or the Verilog header,
    for ps_axil) has them with the configuration the script set."""
    calls = board["calls"]
    cfg = _config(calls)
    verilog = (board["root"] / "vivado/vvd_srcs/fpga/rtl/PL/ps_axil.v").read_text()
    verilog = re.sub(r"`ifdef USER_PROJECT_SIDEBAND_SUPPORT(.*?)`else.*?`endif", r"\1", verilog, flags=re.S)
    ports = module_ports(verilog, "ps_axil")
    intfs = {p.rsplit("_", 1)[0] for p in ports if re.search(r"_(tdata|awaddr)$", p)}
    n_si, n_mi = int(cfg[fb.MEM]["NUM_SI"]), int(cfg[fb.PERIPH]["NUM_MI"])

    def icon(n_s, n_m):
        out = {"ACLK", "ARESETN"}
        for side, n in (("S", n_s), ("M", n_m)):
            out |= {f"{side}{i:02d}_{s}" for i in range(n) for s in ("AXI", "ACLK", "ARESETN")}
        return out
    return {fb.PS_AXIL: set(ports) | intfs,
            fb.DMA: {"S_AXI_LITE", "M_AXI_MM2S", "M_AXI_S2MM", "M_AXIS_MM2S", "S_AXIS_S2MM", "s_axi_lite_aclk",
                     "m_axi_mm2s_aclk", "m_axi_s2mm_aclk", "axi_resetn", "mm2s_introut", "s2mm_introut"},
            fb.INTC: {"s_axi", "s_axi_aclk", "s_axi_aresetn", "intr", "irq"},
            fb.CONCAT: {f"In{i}" for i in range(int(cfg[fb.CONCAT]["NUM_PORTS"]))} | {"dout"},
            fb.TUSER: {"dout"},
            fb.PS7: {"IRQ_F2P"} if cfg[fb.PS7].get("PCW_USE_FABRIC_INTERRUPT") == "1" else set(),
            fb.CLK: {"clk_out1"}, fb.RESET: {"peripheral_aresetn"},
            fb.MEM: icon(n_si, 1), fb.PERIPH: icon(1, n_mi)}, ports


def test_every_file_added_exists_and_ours_replace_the_example(board):
    added = [f for (f,) in _named(board["calls"], "add_file")]
    missing = [f for f in added if not Path(f).is_file()]
    assert not missing, missing
    assert not [f for f in added if "/user_prj/user_prj0/" in f], "FSIC's example user project 0 is still added"
    fsic_dir = board["dir"].parent
    for f in [fsic_dir / "user_prj0.v", fsic_dir / "unet_mem.vh", *(fsic_dir.parent / "rtl").glob("*.mem"),
              *((fsic_dir.parent / "rtl") / s for s in ("unet_core.sv", "unet_regs.sv", "unet_accel.sv"))]:
        assert str(f.resolve()) in added, f
    defining = [f for f in added if f.endswith((".v", ".sv")) and re.search(r"^\s*module\s+USER_PRJ0\b",
                                                                             Path(f).read_text(errors="replace"), re.M)]
    assert len(defining) == 1, defining
    assert ["-id", "Synth 8-4445", "-new_severity", "ERROR"] in _named(board["calls"], "set_msg_config")
    header = str((fsic_dir / "unet_mem.vh").resolve())
    props = _named(board["calls"], "set_property")
    assert ["-name", "is_global_include", "-value", "1", "-objects", header] in [p[:5] + [p[5].lstrip("*")] for p in props
                                                                              if len(p) == 6]


def test_connections_name_existing_pins_and_drive_each_input_once(board):
    calls = board["calls"]
    pins, ports = _pins(board)
    ours = {c for c, _ in fb.CELLS}
    driven = {}
    nets = _named(calls, "connect_bd_net")
    intf = _named(calls, "connect_bd_intf_net")
    # ours: the connections between our first cell and FSIC's validation, exactly fsic_board's data
    first = next(i for i, c in enumerate(calls) if c[0] == "create_bd_cell" and c[2] in ours)
    last = next(i for i, c in enumerate(calls) if c[0] == "validate_bd_design")
    mine = [c for c in calls[first:last] if c[0] in ("connect_bd_net", "connect_bd_intf_net")]
    assert sorted(c[1:] for c in mine) == sorted([[d, *loads] for d, loads in fb.nets()]
                                                 + [list(link) for link in fb.interface_links()])
    # every pin of ps_axil (its Verilog header), of the interconnects (their port counts) and of
    # our cells, in FSIC's connections and ours; of FSIC's other cells, the pins we connect
    strict = ours | {fb.PS_AXIL, fb.MEM, fb.PERIPH}
    for c in nets + intf:
        for p in c:
            cell, _, name = p.partition("/")  # a block design port (DDR_0) has no cell
            if cell in strict or (cell in pins and c in [m[1:] for m in mine]):
                assert name in pins[cell], f"{p}: {cell} has no such pin"
    for c in nets:
        for p in c[1:]:
            assert p not in driven, f"{p} is on two nets"
            driven[p] = c[0]
    # TUSER: as wide as ps_axil's updma_si_tuser (7 bits with USER_PROJECT_SIDEBAND_SUPPORT), tied to 0
    cfg = _config(calls)
    assert int(cfg[fb.TUSER]["CONST_WIDTH"]) == ports["updma_si_tuser"].width == fb.TUSER_BITS
    assert cfg[fb.TUSER]["CONST_VAL"] == "0" and driven[f"{fb.PS_AXIL}/updma_si_tuser"] == f"{fb.TUSER}/dout"
    # the stream both ways, every clock on FSIC's 5 MHz clk_out1
    assert [f"{fb.DMA}/M_AXIS_MM2S", f"{fb.PS_AXIL}/updma_si"] in intf
    assert [f"{fb.PS_AXIL}/updma_so", f"{fb.DMA}/S_AXIS_S2MM"] in intf
    for p in fb.nets()[0][1]:
        assert driven[p] == fb.CLOCK_PIN, p
    clock_nets = [c for c in nets if fb.CLOCK_PIN in c]
    for p in (f"{fb.PS_AXIL}/axi_clk_usdi", f"{fb.PS_AXIL}/axi_clk_udso", f"{fb.PERIPH}/M02_ACLK"):
        assert any(p in c for c in clock_nets), f"{p} is not on FSIC's 5 MHz clk_out1"
    # FSIC's M02 was free: its only AXI connection is ours
    assert [c for c in intf if f"{fb.PERIPH}/M{fb.DMA_LITE_PORT:02d}_AXI" in c] == [
        [f"{fb.PERIPH}/M{fb.DMA_LITE_PORT:02d}_AXI", f"{fb.DMA}/S_AXI_LITE"]]
    # interrupts: the DMA's two and the mailbox into the intc, the intc into IRQ_F2P
    assert driven[f"{fb.PS7}/IRQ_F2P"] == f"{fb.INTC}/irq" and driven[f"{fb.INTC}/intr"] == f"{fb.CONCAT}/dout"
    for i, (_, pin) in enumerate(fb.INTERRUPTS):
        assert driven[f"{fb.CONCAT}/In{i}"] == pin
    assert cfg[fb.PS7]["PCW_IRQ_F2P_INTR"] == "1"


def test_address_map_has_no_overlap_and_matches_the_json(board):
    calls = board["calls"]
    segs = []
    for a in _named(calls, "assign_bd_address"):
        off, rng = int(a[a.index("-offset") + 1], 16), int(a[a.index("-range") + 1], 16)
        space = a[a.index("-target_address_space") + 1]
        segs.append((space, a[-1] if a[-1] != "-force" else a[-2], off, rng))
    arm = sorted((o, r, s) for sp, s, o, r in segs if sp == f"{fb.PS7}/Data")
    for (o1, r1, s1), (o2, _, s2) in zip(arm, arm[1:]):
        assert o1 + r1 <= o2, f"{s1} and {s2} overlap"
    js = board["json"]
    assert js["format"] == "unetaccel-fsic-board"
    for key, a in js["addresses"].items():
        seg = f"{a['instance']}/{a['interface']}/"
        hits = [(o, r) for sp, s, o, r in segs if sp == f"{fb.PS7}/Data" and s.startswith(seg)]
        assert hits == [(a["base"], a["range"])], (key, hits)
    for space in ("Data_MM2S", "Data_S2MM"):
        assert [(s, o, r) for sp, s, o, r in segs if sp == f"{fb.DMA}/{space}"] == [(fb.DDR_SEGMENT, 0, 0x2000_0000)]
    cfg = _config(calls)
    assert int(cfg[fb.DMA]["c_sg_length_width"]) == js["addresses"]["dma"]["length_bits"]
    assert cfg[fb.DMA]["c_include_sg"] == "0"
    assert 2 ** js["addresses"]["dma"]["length_bits"] - 1 >= max(js["in_bytes"], js["logit_bytes"])
    assert js["interrupts"]["inputs"] == {"dma_mm2s": 0, "dma_s2mm": 1, "mailbox": 2}


def test_bitstream_and_handoff_land_beside_the_script(board):
    assert (board["dir"] / fb.BITSTREAM).read_text() == "bit\n"
    assert (board["dir"] / fb.HWH).read_text() == "hwh\n"
    assert ["impl_1", "-to_step", "write_bitstream", "-job", "3"] in _named(board["calls"], "launch_runs")
    assert [c[0] for c in board["calls"]].index("validate_bd_design") > max(
        i for i, c in enumerate(board["calls"]) if c[0] == "create_bd_cell" and c[2] == fb.DMA)


@pytest.mark.parametrize("anchor", ["  validate_bd_design\n", "add_files -norecurse -fileset $obj $files\n"])
def test_a_changed_fsic_script_stops_the_run(board, tmp_path, anchor):
    """A copy of the checkout's vivado/ whose script lacks one anchor: the run stops, naming it."""
    root = tmp_path / "fsic"
    (root / "vivado").mkdir(parents=True)
    text = (board["root"] / fb.FSIC_SCRIPT).read_text()
    assert anchor in text
    (root / fb.FSIC_SCRIPT).write_text(text.replace(anchor, anchor.replace(" ", "  ", 1)))
    r, calls = run_board(board["dir"] / fb.TCL, tmp_path / "w", root)
    assert r.returncode != 0 and "FSIC's script" in r.stderr and anchor.strip() in r.stderr, r.stderr
    assert not _named(calls, "create_project"), "Vivado was asked to do something before the check"


def test_without_fsic_fpga_root_the_run_says_what_to_do(board, tmp_path):
    r, _ = run_board(board["dir"] / fb.TCL, tmp_path / "w", "")
    assert r.returncode != 0 and "FSIC_FPGA_ROOT" in r.stderr and "bol-edu/fsic_fpga" in r.stderr
