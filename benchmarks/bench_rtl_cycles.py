"""RTL cycles per layer and in total next to the ideal (real MACs / lanes), per lane configuration.

    .venv/bin/python benchmarks/bench_rtl_cycles.py [--ir RUN/model.json] [--lanes 4x4,8x8,16x16]

Without --ir it uses a random-weight default-size network (64x64, widths 8..128, 21 classes):
cycles do not depend on the weights. One 64x64 image runs through the generated RTL under
cocotb + Verilator; the image is checked against the NumPy reference as in every run. The
per-layer figures come from the core's state changes (stream in, each layer-table row,
stream out: with the argmax fused into the logits conv, one row "head+argmax", and the class
map streams out during it, "stream out" being its last beats); the total is the CYCLES register (accepted start to ap_done, stream I/O included).
The image streams in while the first layer is loaded and runs (that layer waits for the rows its
taps read), so its cycles are in the first layer's row; the stream-in row counts only what the
sequencer spends waiting for an input stream alone (single-layer mode's load: 0 here).
Prints a table per configuration and a summary, and writes benchmarks/results/rtl_cycles.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from unetaccel import ir as irmod
from unetaccel.codegen.layout import plan
from unetaccel.ir import ops, randnet
from unetaccel.rtl_sim.runner import simulate
from unetaccel.options import parse_lanes, parse_lanes_list

GOALS = {"8x8": 1.05, "16x16": 1.25}  # the cycle goals (total within this many times the ideal)


def run(ir_path, lanes, build: Path, seed: int):
    net = irmod.load(ir_path)
    imgs = np.random.default_rng(seed).integers(0, 256, (1, net.in_channels, *net.size), dtype=np.uint8)
    t = time.time()
    res = simulate(ir_path, imgs, build / f"{lanes[0]}x{lanes[1]}", lanes, log=lambda *a: None)
    wall = time.time() - t
    img = res["images"][0]
    if img["mismatches"]:
        raise SystemExit(f"{lanes}: the RTL output differs from the reference ({img['first']})")
    layout = json.loads((build / f"{lanes[0]}x{lanes[1]}" / "rtl" / "layout.json").read_text())
    steps = plan(net)  # the layer table's rows, with the IR layers each one covers
    assert [s.name for s in steps] == layout["steps"]
    lanes_n = lanes[0] * lanes[1]
    rows = []
    for step, row, cyc in zip(steps, layout["layers"], img["profile"]["layers"]):
        macs = sum(ops.macs(net, lay) for lay in step.layers)  # real MACs, from the op registry
        if rows and rows[-1].pop("fuse", 0):  # the row after a fused one never runs in whole-network mode
            rows[-1].update(layer=f"{rows[-1]['layer']}+{step.name}", op=f"{rows[-1]['op']}+{step.kind}",
                            macs=rows[-1]["macs"] + macs, ideal=(rows[-1]["macs"] + macs) / lanes_n)
            rows[-1]["cycles"] += cyc
            continue
        rows.append({"layer": step.name, "op": step.kind, "macs": macs, "ideal": macs / lanes_n, "cycles": cyc,
                     "fuse": row["fuse"]})
    for r in rows:
        r.pop("fuse", None)
    macs = sum(r["macs"] for r in rows)
    return {"lanes": f"{lanes[0]}x{lanes[1]}", "rows": rows, "recv": img["profile"]["recv"],
            "send": img["profile"]["send"], "total": img["cycles"], "macs": macs, "ideal": macs / lanes_n,
            "sim_s": res["seconds"], "wall_s": wall}


def print_config(r):
    print(f"\n## {r['lanes']} lanes ({r['macs']:,} MACs)\n")
    print("| layer | op | MACs | ideal cycles | cycles | x ideal |")
    print("|---|---|---:|---:|---:|---:|")
    print(f"| (stream in) | | | | {r['recv']:,} | |")
    for x in r["rows"]:
        ratio = f"{x['cycles'] / x['ideal']:.2f}" if x["ideal"] else ""
        print(f"| {x['layer']} | {x['op']} | {x['macs']:,} | {x['ideal']:,.0f} | {x['cycles']:,} | {ratio} |")
    print(f"| (stream out) | | | | {r['send']:,} | |")
    print(f"| **total** | | {r['macs']:,} | {r['ideal']:,.0f} | {r['total']:,} | {r['total'] / r['ideal']:.3f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ir", default=None, help="RUN/model.json (default: random default-size network)")
    ap.add_argument("--lanes", default="4x4,8x8,16x16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--build", default=None, help="build folder (default: a temporary one)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "rtl_cycles.json"))
    a = ap.parse_args(argv)
    tmp = Path(a.build or tempfile.mkdtemp(prefix="bench_rtl_"))
    ir_path = a.ir or irmod.save(randnet.random_unet(seed=a.seed), tmp / "run" / "model")
    print(f"network: {ir_path}{' (random weights, seed %d)' % a.seed if not a.ir else ''}; image seed {a.seed}")
    results = []
    for lanes in parse_lanes_list(a.lanes):
        results.append(run(ir_path, lanes, tmp, a.seed))
        print_config(results[-1])
    print("\n## summary\n")
    print("| lanes | MACs/cycle | ideal cycles | cycles | x ideal | RTL sim (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        la, lb = parse_lanes(r["lanes"])
        print(f"| {r['lanes']} | {la * lb} | {r['ideal']:,.0f} | {r['total']:,} | {r['total'] / r['ideal']:.3f} | "
              f"{r['sim_s']:.1f} |")
    print()
    for r in results:
        if r["lanes"] in GOALS:
            goal = GOALS[r["lanes"]]
            verdict = "meets" if r["total"] <= goal * r["ideal"] else "misses"
            print(f"{r['lanes']}: {r['total'] / r['ideal']:.3f}x ideal, {verdict} the {goal}x goal")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"ir": str(ir_path), "results": results}, indent=1))
    args = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"\nwritten {out}\ncommand: .venv/bin/python benchmarks/bench_rtl_cycles.py {args}".rstrip())


if __name__ == "__main__":
    main()
