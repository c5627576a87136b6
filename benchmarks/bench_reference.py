"""Throughput of the NumPy fixed-point reference next to torch float on the same machine.

    .venv/bin/python benchmarks/bench_reference.py [--batch 16] [--repeats 5] [--size 64x64]

Prints a table (images/s, ratio) and writes benchmarks/results/reference.json.
Goal (issue 3): the reference reaches at least half of torch float's throughput.
The runs are interleaved and the best of each is kept. OPENBLAS_CORETYPE, when this
machine sets it, pins numpy's OpenBLAS to older kernels; to measure without it, unset
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE together for this command only.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from unetaccel.ir import randnet, reference as R
from unetaccel.model import UNet
from unetaccel.options import parse_size


def best_of_interleaved(fns, repeats):
    """Best time of each function, the runs interleaved so that machine noise hits both alike."""
    for fn in fns:
        fn()  # warm-up
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "reference.json"))
    a = ap.parse_args(argv)
    h, w = parse_size(a.size)
    ir = randnet.random_unet(size=(h, w), seed=0)
    x = np.random.default_rng(0).integers(0, 256, (a.batch, 3, h, w), dtype=np.uint8)
    model = UNet(size=(h, w)).eval()
    xt = torch.from_numpy(x).float() / 256
    with torch.no_grad():
        t_ref, t_torch = best_of_interleaved([lambda: R.run(ir, x), lambda: model(xt)], a.repeats)
    rows = [("numpy reference (int semantics)", a.batch / t_ref), ("torch float32 (eval)", a.batch / t_torch)]
    ratio = rows[0][1] / rows[1][1]
    print(f"command: python benchmarks/bench_reference.py --batch {a.batch} --repeats {a.repeats} --size {a.size}")
    import os
    print(f"machine: {platform.processor() or platform.machine()}, torch threads {torch.get_num_threads()}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"{'engine':36s} {'images/s':>10s}")
    for name, v in rows:
        print(f"{name:36s} {v:10.1f}")
    print(f"ratio reference / torch: {ratio:.2f} (goal >= 0.5)")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"batch": a.batch, "size": [h, w], "reference_ips": rows[0][1],
                               "torch_ips": rows[1][1], "ratio": ratio}, indent=1))


if __name__ == "__main__":
    main()
