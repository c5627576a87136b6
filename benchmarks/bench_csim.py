"""C simulation time per image, per type mode (plain C++ integers and ap_int).

    .venv/bin/python benchmarks/bench_csim.py [--ir RUN/model.json] [--images 8] [--lanes 8x8]

Without --ir it uses a random-weight default-size network (64x64, widths 8..128, 21 classes).
Prints a table and writes benchmarks/results/csim.json. Compile time is reported apart; the run
time per image includes the testbench's per-layer comparison (and, once per run, its three short
protocol runs). The build folder is a temporary one, removed at the end.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from unetaccel import ir as irmod
from unetaccel.hls import csim
from unetaccel.ir import randnet
from unetaccel.options import parse_lanes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ir", default=None)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--lanes", default="8x8")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "csim.json"))
    a = ap.parse_args(argv)
    lanes = parse_lanes(a.lanes)
    with tempfile.TemporaryDirectory(prefix="bench_csim_") as t:  # removed afterwards, also on errors
        tmp = Path(t)
        ir_path = a.ir or irmod.save(randnet.random_unet(seed=0), tmp / "run" / "model")
        random_images = a.ir is None
        net, project = csim.ensure_project(ir_path, tmp / "build", lanes, log=lambda *x: None)
        rows = []
        for mode in csim.MODES:
            t0 = time.time()
            exe = csim.compile_tb(project, mode, log=lambda *x: None)
            compile_s = time.time() - t0
            rep = csim.run(ir_path, tmp / "build", a.images, (mode,), lanes, random_images=random_images,
                           log=lambda *x: None)[0]
            rows.append({"mode": mode, "compile_s": compile_s, "images": a.images,
                         "ms_per_image": 1000 * rep.seconds / a.images, "mismatches": rep.mismatches})
            assert exe.exists()
    print(f"command: python benchmarks/bench_csim.py {'--ir ' + a.ir if a.ir else ''} --images {a.images} "
          f"--lanes {a.lanes}")
    print(f"network: {net.name}, input {list(net.input_tensor.shape)}, {net.num_classes} classes, "
          f"{len(net.layers)} IR layers (csim includes the per-layer trace and comparison)")
    print(f"{'types':8s} {'compile s':>10s} {'ms/image':>10s} {'mismatches':>11s}")
    for r in rows:
        print(f"{r['mode']:8s} {r['compile_s']:10.1f} {r['ms_per_image']:10.1f} {r['mismatches']:11d}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
