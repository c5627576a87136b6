"""Run a generated Vivado script under Tcl's own shell (tclsh) with Vivado's commands stubbed.

The stubs record every call (name and words) and keep the state a script reads back: the block
design's cells, the IP's file groups, the bus interfaces ipx::package_project would infer from the
IP top's X_INTERFACE attributes (`busifs`, `props`), the runs' folders and logs, the bitstream and
the handoff. A command no stub defines is Tcl's "invalid command name" error, a wrong variable
name "can't read", unbalanced braces a syntax error: each fails the script, so the test sees it.
tclsh missing raises ToolMissing (install Debian's tcl), never a skip.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from unetaccel.tools import tclsh

STUBS = r"""
set ::calls [open $::env(UNET_CALLS) w]
fconfigure $::calls -translation lf -encoding utf-8
proc rec {args} { puts -nonewline $::calls "[join $args \x1f]\x1e"; flush $::calls }
set ::stubdir $::env(UNET_STUBDIR)
set ::cells [dict create]
set ::filegroups [dict create]
set ::ip_root ""
namespace eval ipx {}

proc stub_error {msg} { error "stub: $msg" }
proc create_project {args} { rec create_project {*}$args; return [lindex $args 0] }
proc close_project {args} { rec close_project {*}$args }
proc set_msg_config {args} { rec set_msg_config {*}$args }
proc read_verilog {args} { rec read_verilog {*}[concat {*}$args] }
proc add_files {args} { rec add_files {*}[concat {*}$args] }
proc set_property {args} {
    if {[lindex $args 0] eq "-dict"} {
        foreach {k v} [lindex $args 1] { rec set_property_kv $k $v [lindex $args 2] }
    } else {
        rec set_property {*}$args
    }
}
proc current_fileset {args} { return sources_1 }
proc current_project {args} { return unet_project }
proc update_compile_order {args} { rec update_compile_order {*}$args }
proc update_ip_catalog {args} { rec update_ip_catalog {*}$args }
proc get_ipdefs {args} {
    set vlnv [lindex $args end]
    if {$vlnv in $::ip_catalog} { return $vlnv }
    return ""
}
proc get_property {prop obj} {
    if {[info exists ::props([list $prop $obj])]} { return $::props([list $prop $obj]) }
    switch -- $prop {
        PROGRESS { return "100%" }
        DIRECTORY { return [file join $::stubdir runs $obj] }
        SLACK { return 0.250 }
    }
    stub_error "no property $prop of $obj"
}

# IP packaging
proc ipx::package_project {args} {
    rec ipx::package_project {*}$args
    set ::ip_root [lindex $args [expr {[lsearch $args -root_dir] + 1}]]
    file mkdir $::ip_root
}
proc ipx::current_core {args} { return core }
proc ipx::get_file_groups {name args} { return "fg:$name" }
proc ipx::get_files {rel args} {
    set fg [lindex $args end]
    if {[dict exists $::filegroups $fg] && $rel in [dict get $::filegroups $fg]} { return [list "$fg:$rel"] }
    return ""
}
proc ipx::add_file {rel fg} {
    if {![file isfile [file join $::ip_root $rel]]} { stub_error "ipx::add_file $rel: no such file in $::ip_root" }
    dict lappend ::filegroups $fg $rel
    rec ipx::add_file $rel $fg
}
proc ipx::get_bus_interfaces {name args} {
    if {$name in $::busifs} { return "bi:$name" }
    return ""
}
proc ipx::get_bus_parameters {name args} { return "bp:$name:[lindex $args end]" }
set ::memory_maps {}
proc ipx::get_memory_maps {name args} {
    if {$name in $::memory_maps} { return "mm:$name" }
    return ""
}
proc ipx::add_memory_map {name core} {
    if {$name ni $::busifs} { stub_error "memory map for $name: no such bus interface" }
    lappend ::memory_maps $name
    rec ipx::add_memory_map $name $core
    return "mm:$name"
}
proc ipx::add_address_block {name mm} { rec ipx::add_address_block $name $mm; return "ab:$name" }
proc ipx::create_xgui_files {args} { rec ipx::create_xgui_files {*}$args }
proc ipx::update_checksums {args} { rec ipx::update_checksums {*}$args }
proc ipx::check_integrity {args} { rec ipx::check_integrity {*}$args }
proc ipx::save_core {args} {
    rec ipx::save_core {*}$args
    set fh [open [file join $::ip_root component.xml] w]; puts $fh "<stub/>"; close $fh
}

# block design
proc create_bd_design {name} { rec create_bd_design $name; return $name }
proc current_bd_design {args} { rec current_bd_design {*}$args }
proc create_bd_cell {args} {
    set name [lindex $args end]
    set vlnv [lindex $args [expr {[lsearch $args -vlnv] + 1}]]
    if {[dict exists $::cells $name]} { stub_error "cell $name created twice" }
    if {$vlnv ni $::ip_catalog && ![string match xilinx.com:ip:* $vlnv]} { stub_error "no IP $vlnv in the catalog" }
    dict set ::cells $name $vlnv
    rec create_bd_cell $vlnv $name
    return $name
}
proc create_bd_intf_port {args} { rec create_bd_intf_port {*}$args; return [lindex $args end] }
proc get_bd_intf_ports {name} { return $name }
proc check_pin {pin} {
    set cell [lindex [split $pin /] 0]
    if {![dict exists $::cells $cell]} { stub_error "pin $pin: no cell $cell" }
    return $pin
}
proc get_bd_intf_pins {pin} { return [check_pin $pin] }
proc get_bd_pins {pin} { return [check_pin $pin] }
proc connect_bd_intf_net {a b} { rec connect_bd_intf_net $a $b }
proc connect_bd_net {args} { rec connect_bd_net {*}$args }
proc get_bd_addr_spaces {name} { return $name }
proc get_bd_addr_segs {args} { return [list "[lindex $args end]/Reg"] }
proc assign_bd_address {args} { rec assign_bd_address {*}$args; return "SEG" }
proc validate_bd_design {args} { rec validate_bd_design {*}$args }
proc save_bd_design {args} { rec save_bd_design {*}$args }
proc make_wrapper {args} { rec make_wrapper {*}$args; return [file join $::stubdir unet_bd_wrapper.v] }
proc get_files {args} {
    set name [lindex $args end]
    if {[string match *.hwh $name]} {
        set f [file join $::stubdir $name]
        if {[file isfile $f]} { return [list $f] }
        return ""
    }
    return [file join $::stubdir $name]
}
proc generate_target {args} {
    rec generate_target {*}$args
    set fh [open [file join $::stubdir unet_bd.hwh] w]; puts $fh "<vivado-hwh/>"; close $fh
}

# runs
proc launch_runs {run args} {
    rec launch_runs $run {*}$args
    set dir [file join $::stubdir runs $run]
    file mkdir $dir
    set fh [open [file join $dir runme.log] w]
    if {$run eq "synth_1"} { puts $fh $::env(UNET_SYNTH_LOG) }
    close $fh
    if {$run eq "impl_1"} { set fh [open [file join $dir unet_bd_wrapper.bit] w]; puts $fh "bit"; close $fh }
}
proc wait_on_run {run} { rec wait_on_run $run }
proc get_runs {args} {
    if {[lindex $args 0] eq "-filter"} { return [list synth_1] }
    return [lindex $args 0]
}
proc open_run {args} { rec open_run {*}$args }
proc report_timing_summary {args} { rec report_timing_summary {*}$args }
proc get_timing_paths {args} { return path }
"""


@dataclass
class TclRun:
    returncode: int
    calls: list[list[str]]
    stderr: str
    stdout: str

    def named(self, name: str) -> list[list[str]]:
        return [c[1:] for c in self.calls if c[0] == name]


def run_script(script: Path, workdir: Path, *, argv=(), catalog=(), busifs=(), props=None,
               synth_log: str = "synth_1 done") -> TclRun:
    """Source `script` under tclsh from `workdir` (not the script's folder) with the stubs above.
    catalog: the IP VLNVs get_ipdefs finds; busifs / props: what ipx::package_project inferred
    (bus interface names; {(property, object): value} for get_property)."""
    workdir.mkdir(parents=True, exist_ok=True)
    stubdir = workdir / "stub"
    stubdir.mkdir(exist_ok=True)
    calls = workdir / "calls.txt"
    prelude = [STUBS, f"set ::ip_catalog {{{' '.join(catalog)}}}", f"set ::busifs {{{' '.join(busifs)}}}",
               f"set ::argv {{{' '.join(argv)}}}"]
    for (prop, obj), value in (props or {}).items():
        prelude.append(f"set ::props([list {prop} {obj}]) {{{value}}}")
    prelude.append(f"if {{[catch {{source {{{script}}}}} err]}} {{ puts stderr \"ERROR: $err\"; exit 1 }}")
    driver = workdir / "driver.tcl"
    driver.write_text("\n".join(prelude) + "\n")
    env = {**os.environ, "UNET_CALLS": str(calls), "UNET_STUBDIR": str(stubdir), "UNET_SYNTH_LOG": synth_log}
    r = subprocess.run([str(tclsh()), str(driver)], cwd=workdir, capture_output=True, text=True, env=env,
                       timeout=60)
    text = calls.read_text(encoding="utf-8") if calls.exists() else ""
    recs = [c.split("\x1f") for c in text.split("\x1e") if c]
    return TclRun(r.returncode, recs, r.stderr, r.stdout)


def complete(path: Path) -> bool:
    """tclsh's `info complete` on a whole script file: its braces, brackets and quotes balance."""
    check = "set f [open [lindex $argv 0]]; fconfigure $f -encoding utf-8; puts [info complete [read $f]]\n"
    r = subprocess.run([str(tclsh()), "/dev/stdin", str(path)], input=check, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip() == "1"


from verilog_ports import VPort, inferred_interfaces, module_ports  # noqa: E402,F401 (tests/verilog_ports.py)
