"""What Vitis HLS would build from the generated HLS project, per lane configuration: estimated cycles
per layer and in total, multipliers instantiated, block RAM (RAMB36) and LUT ROM, next to the RTL's
measured cycles.

    .venv/bin/python benchmarks/bench_hls_model.py [--ir RUN/model.json] [--lanes 4x4,8x8,16x16]
                                                   [--rtl-json benchmarks/results/rtl_cycles.json | --no-rtl]

Without --ir it uses a random-weight default-size network (64x64, widths 8..128, 21 classes):
neither cycles nor memory depend on the weights. For each lane configuration the HLS project is
generated and the estimate is made from its sources: each layer's trip count is read from the
generated layer table (unet_weights.cpp, LTAB's `iters`, what the engine's one pipelined loop a
layer walks), II 1, plus the pipeline depth and set-up the model states
(unetaccel.codegen.hls_model); the model's own trip counts must equal the table's. Memory is
counted from the arrays the sources declare by the RAMB18 aspect rule. The RTL's cycles come from
one image through the generated RTL (cocotb + Verilator, as bench_rtl_cycles.py), or from its
JSON (--rtl-json). Where both should agree (the MAC layers after the first, whose RTL row also
holds the image's stream-in) the RTL's cycles minus the trip count must be a small constant (its
per-layer overhead): the script exits 1 when not, or when a goal is missed (multipliers =
PIN x POUT + POUT, <= 110 RAMB36 at 8x8, estimated cycles <= 1.1x the RTL's).
No Vitis run has confirmed the estimate. Writes benchmarks/results/hls_model.json.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from unetaccel import ir as irmod
from unetaccel.codegen import hls_model
from unetaccel.codegen.hls_project import LTAB_FIELDS, emit_hls
from unetaccel.ir import randnet
from unetaccel.options import parse_lanes_list

RAMB36_GOAL = {"8x8": 110}
CYCLE_GOAL = 1.1
RTL_OVERHEAD_MAX = 64  # the RTL's cycles a layer beyond its trip count (set-up, pipeline drain)


def source_trips(files: dict[str, str]) -> list[int]:
    """Each layer step's trip count as the generated sources hold it: LTAB's `iters` per row."""
    body = files["unet_weights.cpp"].split("const layer_t LTAB[NUM_LAYERS] = {", 1)[1].split("};", 1)[0]
    k = LTAB_FIELDS.index("iters")
    return [int(row.split(",")[k]) for row in re.findall(r"\{([^{}]*)\},", body)]


def rtl_cycles(ir_path: str, lanes_list, rtl_json: str | None, build: Path) -> dict:
    """{"PINxPOUT": {"total": cycles, "rows": [{layer, cycles}]}} measured, or read from --rtl-json."""
    if rtl_json:
        data = json.loads(Path(rtl_json).read_text())
        return {r["lanes"]: r for r in data["results"]}
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_rtl_cycles import run as run_rtl  # noqa: E402 (this folder's RTL cycle benchmark)
    out = {}
    for lanes in lanes_list:
        key = f"{lanes[0]}x{lanes[1]}"
        print(f"RTL {key}: one image through the generated RTL (Verilator) ...", flush=True)
        out[key] = run_rtl(ir_path, lanes, build, seed=0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ir", help="RUN/model.json (default: a random-weight default-size network)")
    ap.add_argument("--lanes", default="4x4,8x8,16x16")
    ap.add_argument("--rtl-json", help="the RTL's cycles from bench_rtl_cycles.py's JSON instead of simulating")
    ap.add_argument("--no-rtl", action="store_true", help="the estimate alone")
    ap.add_argument("--clock-ns", type=float, default=10.0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "hls_model.json"))
    a = ap.parse_args(argv)
    lanes_list = parse_lanes_list(a.lanes)
    tmp = Path(tempfile.mkdtemp(prefix="bench_hls_model_"))
    ir_path = a.ir
    if not ir_path:
        ir_path = str(irmod.save(randnet.random_unet(seed=0), tmp / "run" / "model"))
        print(f"random-weight default network: {ir_path}")
    net = irmod.load(ir_path)
    rtl = {} if a.no_rtl else rtl_cycles(ir_path, lanes_list, a.rtl_json, tmp / "rtl")
    failures, results, summary = [], [], []
    for lanes in lanes_list:
        key = f"{lanes[0]}x{lanes[1]}"
        files = emit_hls(net, lanes, clock_ns=a.clock_ns)
        est = hls_model.estimate(net, lanes)
        trips = source_trips(files)
        layer_loops = est.loops[1:-1]
        if [lp.trips for lp in layer_loops] != trips[:len(layer_loops)] or any(trips[len(layer_loops):]):
            failures.append(f"{key}: the model's trip counts differ from the generated layer table's")
        r = rtl.get(key)
        rtl_rows = r["rows"] if r else [None] * len(layer_loops)
        print(f"\n== {key} lanes (PIN x POUT), estimate from the generated sources; RTL measured"
              f"{'' if r else ': not run'}")
        print(f"{'layer':36s} {'loop':11s} {'trips':>9s} {'est.':>9s} {'RTL':>9s} {'RTL-trips':>9s}")
        rows = []
        for lp in est.loops:
            rr = None
            if lp in layer_loops:
                rr = rtl_rows[layer_loops.index(lp)]
            rc = rr["cycles"] if rr else None
            print(f"{lp.layer:36s} {lp.loop:11s} {lp.trips:9,d} {lp.cycles:9,d} "
                  f"{'' if rc is None else f'{rc:,}':>9s} {'' if rc is None else f'{rc - lp.trips:+,}':>9s}")
            rows.append({"layer": lp.layer, "loop": lp.loop, "trips": lp.trips, "ii": lp.ii, "depth": lp.depth,
                         "setup": lp.setup, "cycles": lp.cycles, "rtl_cycles": rc})
        ratio = est.cycles / r["total"] if r else None
        print(f"{'total':36s} {'':11s} {'':9s} {est.cycles:9,d} {r['total'] if r else '':>9} "
              f"{'' if ratio is None else f'x{ratio:.3f}':>9s}")
        if r:
            mac = [(row["rtl_cycles"] - row["trips"]) for row in rows[2:-1] if row["loop"] == "MAC"]
            print(f"trip counts vs the RTL (MAC layers after the first): RTL - trips in [{min(mac)}, {max(mac)}]")
            if min(mac) < 0 or max(mac) > RTL_OVERHEAD_MAX:
                failures.append(f"{key}: the RTL's MAC layers are not trip count + a small overhead: {mac}")
            if ratio > CYCLE_GOAL:
                failures.append(f"{key}: estimated cycles {ratio:.3f}x the RTL's (goal <= {CYCLE_GOAL})")
        print("multipliers: " + ", ".join(f"{w}: {n} ({ops})" for w, (n, ops) in est.multipliers.items())
              + f"; total {est.multiplier_count}")
        if est.multiplier_count != lanes[0] * lanes[1] + lanes[1]:
            failures.append(f"{key}: {est.multiplier_count} multipliers, not PIN x POUT + POUT")
        print(f"{'memory':8s} {'width':>6s} {'depth':>7s} {'arrays':>6s} {'impl':>7s} {'RAMB18':>7s} {'LUTs':>6s}")
        for m in est.memories:
            print(f"{m.name:8s} {m.width:6d} {m.depth:7,d} {m.count:6d} {m.impl:>7s} {m.ramb18 or '':>7} {m.luts or '':>6}")
        print(f"block RAM {est.ramb36:g} RAMB36 (xc7z020: 140), LUT ROM {est.lutram_luts:,} LUTs")
        goal = RAMB36_GOAL.get(key)
        if goal and est.ramb36 > goal:
            failures.append(f"{key}: {est.ramb36:g} RAMB36 > {goal}")
        summary.append((key, est.cycles, r["total"] if r else None, ratio, est.multiplier_count, est.ramb36,
                        est.lutram_luts))
        results.append({"lanes": key, "cycles": est.cycles, "rtl_cycles": r["total"] if r else None, "ratio": ratio,
                        "multipliers": est.multiplier_count, "ramb36": est.ramb36, "lut_rom": est.lutram_luts,
                        "memories": [vars(m) | {"ramb18": m.ramb18, "luts": m.luts} for m in est.memories],
                        "rows": rows})
    print(f"\n== summary (estimate; no Vitis run has confirmed it)   command: "
          f".venv/bin/python benchmarks/bench_hls_model.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"{'lanes':6s} {'est. cycles':>12s} {'RTL cycles':>11s} {'ratio':>6s} {'mults':>6s} {'RAMB36':>7s} {'LUT ROM':>8s}")
    for key, c, rc, ratio, mults, ramb, luts in summary:
        print(f"{key:6s} {c:12,d} {'' if rc is None else f'{rc:,}':>11s} {'' if ratio is None else f'{ratio:.3f}':>6s} "
              f"{mults:6d} {ramb:7g} {luts:8,d}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"ir": ir_path, "clock_ns": a.clock_ns, "results": results}, indent=1) + "\n")
    print(f"wrote {a.out}")
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
