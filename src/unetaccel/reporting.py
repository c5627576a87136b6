"""`unetaccel report`: what W5A8 hardware costs against the float model, layer by layer and class by class.

On the validation split of a run (RUN: float.pt, quant.pt, model.json/.npz, val.npz, as `train` and
`quantize` write them): the float model, the Brevitas W5A8 model and the hardware (the integer
reference, the spec, on every image; the C simulation and the RTL on the first N images of
RUN/val.npz, where they must equal the reference exactly; FSIC's subsystem with our user project
too, with `fsic` among the rungs and FSIC_FPGA_ROOT set) scored against the labels (pixel
accuracy, mIoU, per-class IoU, Dice), the hardware's agreement with the float model, confusion
matrices, the SQNR of every IR tensor against the float model's (real units), cycles and frames
per second from the RTL, and the area table when one was produced. Writes report.md (tables,
pictures embedded), report.json (every figure) and PNGs into RUN/report (or --out).

Imports torch (the float and Brevitas models): a stage of its own, beside the simulators.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .codegen.hls_model import part_fit
from .errors import UnetaccelError
from .scores import agreement, confusion, metrics_from_confusion, sqnr_db
from .threads import apply_torch_threads

log = logging.getLogger("unetaccel.reporting")

HW_RUNGS = ("ref", "csim", "rtl", "fsic")  # fsic: FSIC's subsystem with our user project (FSIC_FPGA_ROOT)
DEFAULT_IMAGES = 2
SQNR_IMAGES = 8  # the per-layer SQNR is taken over the first this many validation images
AREA_FILES = ("rtl_area.json", "benchmarks/results/rtl_area.json")  # RUN/..., then from the working folder


class ReportError(UnetaccelError, ValueError):
    """A run folder the report cannot use (a missing file, an unknown rung)."""


@dataclass
class RungCheck:
    """A hardware rung run on the first images: equal to the reference or not."""
    rung: str
    images: int
    values: int
    mismatches: int
    seconds: float
    cycles: list[int] = field(default_factory=list)


@dataclass
class ReportResult:
    out: Path
    figures: dict
    files: list[Path]
    checks: list[RungCheck]

    @property
    def mismatches(self) -> int:
        return sum(c.mismatches for c in self.checks)


def parse_rungs(text: str) -> tuple[str, ...]:
    rungs = tuple(r.strip() for r in str(text).split(",") if r.strip())
    bad = [r for r in rungs if r not in HW_RUNGS]
    if bad or not rungs:
        raise ReportError(f"--hw {text!r}: a comma-separated list of {', '.join(HW_RUNGS)}")
    return rungs


def _need(run: Path, name: str, how: str) -> Path:
    p = run / name
    if not p.is_file():
        raise ReportError(f"{p}: missing ({how})")
    return p


def _real(ir, name: str, q: np.ndarray) -> np.ndarray:
    """An IR tensor's integers (N x C x H x W) in real units: q * 2^-f, f per tensor or per channel."""
    f = ir.tensors[name].type.f
    scale = np.power(2.0, -np.asarray(f, dtype=np.float64))
    if scale.ndim:
        scale = scale.reshape(1, -1, 1, 1)
    return np.asarray(q, dtype=np.float64) * scale


def _batches(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def make_report(run, images: int = DEFAULT_IMAGES, hw=HW_RUNGS, clock_mhz: float = 100.0, out=None, build=None,
                sqnr_images: int = SQNR_IMAGES, lanes=(8, 8)) -> ReportResult:
    """Compute every figure, write the files, return them (see the module's docstring)."""
    import torch

    from . import ir as irmod
    from .ir import reference as R
    from .ir.data import load_val
    from .model.train import TrainConfig, build_datasets, load_checkpoint, sample_batch, to_input
    from .quant.qmodel import from_float

    apply_torch_threads()
    run = Path(run)
    hw = parse_rungs(hw if isinstance(hw, str) else ",".join(hw))
    if images < 1:
        raise ReportError(f"--images {images}: at least 1")
    if clock_mhz <= 0:
        raise ReportError(f"--clock-mhz {clock_mhz}: must be positive")
    out = Path(out) if out else run / "report"
    build = Path(build) if build else run / "build"
    t0 = time.time()
    float_pt = _need(run, "float.pt", "`unetaccel train --out RUN` writes it")
    quant_pt = _need(run, "quant.pt", "`unetaccel quantize --checkpoint RUN/float.pt --out RUN` writes it")
    ir_path = _need(run, "model.json", "`unetaccel quantize` writes it")
    net = irmod.load(ir_path)
    model, ck = load_checkpoint(float_pt)
    model.eval()
    qm = run / "quant_metrics.json"
    tc = dict(json.loads(qm.read_text()).get("train_config") or {}) if qm.is_file() else {}
    tc = tc or dict(ck.get("train_config") or {})
    cfg = TrainConfig(**{k: v for k, v in tc.items() if k in TrainConfig.__dataclass_fields__})
    cfg.size, cfg.widths, cfg.classes = tuple(model.config.size), tuple(model.config.widths), model.config.num_classes
    _, val_ds, k, names = build_datasets(cfg)
    x, y = sample_batch(val_ds, len(val_ds))
    log.info("validation split: %d images (%s)", len(x), cfg.dataset)
    qck = torch.load(quant_pt, map_location="cpu", weights_only=False)
    qmodel = from_float(model, qck.get("weight_bits", 5), qck.get("act_bits", 8))
    qmodel.load_state_dict(qck["state_dict"])
    qmodel.eval()

    # class maps of the three on the whole split
    float_cls, q_cls, hw_cls = [], [], []
    with torch.no_grad():
        for s in _batches(len(x), 16):
            inp = to_input(torch.from_numpy(x[s]))
            float_cls.append(model(inp).argmax(1).numpy())
            ql = qmodel(inp)
            q_cls.append((ql.value if hasattr(ql, "value") else ql).argmax(1).numpy())
            hw_cls.append(R.run(net, x[s]).classes)
    float_cls, q_cls, hw_cls = (np.concatenate(v) for v in (float_cls, q_cls, hw_cls))
    cms = {m: confusion(c, y, k) for m, c in (("float", float_cls), ("w5a8", q_cls), ("hardware", hw_cls))}
    scores = {m: metrics_from_confusion(cm, names) for m, cm in cms.items()}
    agree = agreement(float_cls, hw_cls, k, names)
    log.info("float mIoU %.4f, W5A8 %.4f, hardware %.4f; hardware agrees with float on %.2f%% of pixels",
             scores["float"]["mean_iou"], scores["w5a8"]["mean_iou"], scores["hardware"]["mean_iou"],
             100 * agree["agree"])

    # per-layer SQNR of the hardware (reference trace, real units) against the float model
    ns = min(sqnr_images, len(x))
    ftr: list = []
    with torch.no_grad():
        model(to_input(torch.from_numpy(x[:ns])), trace=ftr)
    ref = R.run(net, x[:ns], trace=True)
    tensors = [(net.input, "input")] + [(lay.output, lay.op) for lay in net.layers if lay.op != "argmax"]
    if [kd for kd, _ in ftr] != [kd for _, kd in tensors]:
        raise ReportError(f"{ir_path}: the IR's tensors do not follow the float UNet's structure; no per-layer SQNR")
    layers = []
    for (name, kind), (_, ft) in zip(tensors, ftr):
        if kind in ("input", "concat"):
            continue
        fv = ft.numpy().astype(np.float64)
        layers.append({"tensor": name, "op": kind, "bits": net.tensors[name].type.bits,
                       "sqnr_db": sqnr_db(fv, _real(net, name, ref.trace[name]))})

    # the hardware rungs on the first images of RUN/val.npz: equal to the reference
    checks: list[RungCheck] = []
    vimgs = load_val(ir_path, net)[0][:images]
    want = R.run(net, vimgs).classes
    if "ref" in hw:
        checks.append(RungCheck("reference", len(vimgs), int(want.size), 0, 0.0))
    if "csim" in hw:
        from .hls import csim as cs
        t = time.time()
        reps = cs.run(ir_path, build, images=len(vimgs), modes=("native",), log=lambda *a: log.debug(*a))
        values = sum(v[0] + v[1] for r in reps for v in r.tensors.values())
        checks.append(RungCheck("C simulation", len(vimgs), values, sum(r.mismatches for r in reps), time.time() - t))
    cycles = None
    if "rtl" in hw:
        from .rtl_sim.runner import simulate
        t = time.time()
        res = simulate(ir_path, vimgs, build, lanes=lanes, log=lambda *a: log.debug(*a))
        cyc = [int(r["cycles"]) for r in res["images"]]
        checks.append(RungCheck("RTL (Verilator)", len(vimgs), sum(int(r["expected_bytes"]) for r in res["images"]),
                                sum(int(r["mismatches"]) for r in res["images"]), time.time() - t, cyc))
        cycles = {"per_image": cyc, "mean": float(np.mean(cyc)), "clock_mhz": clock_mhz,
                  "fps": clock_mhz * 1e6 / float(np.mean(cyc)), "ms": float(np.mean(cyc)) / (clock_mhz * 1e3)}
    if "fsic" in hw:
        from .fsic import system
        t = time.time()
        sub = system.Subsystem(ir_path, build, lanes=lanes, simulator="verilator", log=lambda *a: log.debug(*a))
        rs = sub.network(vimgs, log=lambda *a: log.debug(*a))
        checks.append(RungCheck("FSIC subsystem (Verilator)", len(vimgs), sum(int(r["bytes"]) for r in rs),
                                sum(int(r["mismatches"]) + int(r["cycles"] != r["rtl_cycles"]) for r in rs),
                                time.time() - t, [int(r["cycles"]) for r in rs]))
    area = _area(run, lanes)
    fit = part_fit(net, lanes)  # what `generate` warns of

    figures = {
        "run": str(run), "ir": str(ir_path), "dataset": cfg.dataset, "val_images": int(len(x)),
        "classes": names, "sqnr_images": ns,
        "metrics": {m: {"pixel_accuracy": s["pixel_accuracy"], "mean_iou": s["mean_iou"], "mean_dice": s["mean_dice"],
                        "iou": s["iou"], "dice": s["dice"]} for m, s in scores.items()},
        "agreement": agree, "confusion": {m: cm.tolist() for m, cm in cms.items()}, "layers": layers,
        "hardware_checks": [vars(c) for c in checks], "cycles": cycles, "area": area, "fit": fit,
        "seconds": None,
    }
    out.mkdir(parents=True, exist_ok=True)
    files = _plots(out, x, y, float_cls, hw_cls, figures, k)
    figures["seconds"] = round(time.time() - t0, 1)
    (out / "report.json").write_text(json.dumps(_jsonable(figures), indent=1) + "\n")
    (out / "report.md").write_text(markdown(figures, {p.stem: p.name for p in files}))
    files += [out / "report.json", out / "report.md"]
    log.info("report in %s (%.1f s)", out, figures["seconds"])
    return ReportResult(out, figures, files, checks)


def _area(run: Path, lanes) -> dict:
    """The area table of bench_rtl_area.py for these lanes when one was produced, else how to make it."""
    key = f"{lanes[0]}x{lanes[1]}"
    for cand in (run / AREA_FILES[0], Path(AREA_FILES[1])):
        if cand.is_file():
            data = json.loads(cand.read_text())
            rows = [r for r in data.get("results", []) if r.get("lanes") == key]
            if rows:
                r = rows[0]
                return {"source": str(cand), "lanes": key, **{c: r[c] for c in ("LUT", "FF", "DSP", "BRAM36", "BRAM18")
                                                             if c in r}}
    return {"missing": True, "how": f"run `.venv/bin/python benchmarks/bench_rtl_area.py --ir {run / 'model.json'} "
                                    f"--lanes {key}` (Yosys synth_xilinx; it writes benchmarks/results/rtl_area.json)"}


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def fmt(v, nd: int = 4) -> str:
    """How report.md writes a figure (the test reads them back against report.json)."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{nd}f}"
    return f"{v}"


def markdown(fig: dict, pictures: dict) -> str:
    m = fig["metrics"]
    lines = ["# Simulated W5A8 hardware against the float model", "",
             f"Run `{fig['run']}`, {fig['dataset']} validation split: {fig['val_images']} images. \"Simulated "
             "hardware\" is the accelerator's integer arithmetic: its class maps are the NumPy integer reference's "
             "(the spec) on every image, and the C simulation and the RTL simulation equal it on the images of the "
             "Hardware section below. No board ran.", "",
             "## Accuracy", "", "| model | pixel accuracy | mIoU | mean Dice |", "|---|---|---|---|"]
    for key, label in (("float", "float"), ("w5a8", "Brevitas W5A8"), ("hardware", "simulated hardware (W5A8 integer)")):
        lines.append(f"| {label} | {fmt(m[key]['pixel_accuracy'])} | {fmt(m[key]['mean_iou'])} | "
                     f"{fmt(m[key]['mean_dice'])} |")
    a = fig["agreement"]
    lines += ["", f"The simulated hardware's class map agrees with the float model's on **{fmt(a['agree'])}** of the "
              "pixels.", "",
              "| class | IoU float | IoU hardware | Dice float | Dice hardware | agreement with float |",
              "|---|---|---|---|---|---|"]
    for c in fig["classes"]:
        lines.append(f"| {c} | {fmt(m['float']['iou'][c])} | {fmt(m['hardware']['iou'][c])} | "
                     f"{fmt(m['float']['dice'][c])} | {fmt(m['hardware']['dice'][c])} | {fmt(a['per_class'][c])} |")
    lines += ["", f"![per-class IoU]({pictures.get('iou', 'iou.png')})", "",
              f"![image, truth, float, simulated hardware]({pictures.get('overlays', 'overlays.png')})", "",
              "## Per layer", "", f"SQNR of each hardware tensor against the float model's, in real units, over "
              f"the first {fig['sqnr_images']} validation images (inf: no error). SQNR = 10 log10(signal power / "
              "error power): 0 dB means the difference from the float tensor is as large as the tensor itself, and "
              "a negative SQNR means it is larger. Rounding alone gives high values; low or negative ones deep in "
              "the network mean the W5A8 model's tensors went their own way there, which quantization-aware "
              "training does (its weights were fine-tuned apart from the float model's), and need not cost "
              "accuracy: compare the accuracy table above.", "",
              "| tensor | op | bits | SQNR dB |", "|---|---|---|---|"]
    for r in fig["layers"]:
        lines.append(f"| {r['tensor']} | {r['op']} | {r['bits']} | {fmt(r['sqnr_db'], 2)} |")
    lines += ["", f"![per-layer SQNR]({pictures.get('sqnr', 'sqnr.png')})", "",
              "## Confusion", "", "Rows are the truth, columns the prediction (fractions of each row).", "",
              f"![confusion matrices]({pictures.get('confusion', 'confusion.png')})", "",
              "## Hardware", "", "| rung | images | values compared | mismatches | seconds |", "|---|---|---|---|---|"]
    for c in fig["hardware_checks"]:
        lines.append(f"| {c['rung']} | {c['images']} | {c['values']} | {c['mismatches']} | {fmt(c['seconds'], 1)} |")
    cy = fig["cycles"]
    lines.append("")
    if cy:
        lines.append(f"RTL: **{fmt(cy['mean'], 0)} cycles** an inference, **{fmt(cy['fps'], 1)} frames/s** "
                     f"({fmt(cy['ms'], 3)} ms) at {fmt(cy['clock_mhz'], 0)} MHz.")
    else:
        lines.append("RTL cycles: not measured (the report ran without `--hw rtl`).")
    ft = fig.get("fit")
    if ft:
        verdict = (f"**does not fit**: {', '.join(ft['over'])}; choose fewer lanes" if ft["over"]
                   else f"fits ({ft['has']['RAMB36']} RAMB36, {ft['has']['DSP48E1']} DSP48E1)")
        lines += ["", f"Estimate at {ft['lanes']} lanes (the HLS project's model): {fmt(ft['needs']['RAMB36'], 1)} RAMB36, "
                  f"{ft['needs']['DSP48E1']} multipliers; on the {ft['part']} it {verdict}."]
    ar = fig["area"]
    lines.append("")
    if ar.get("missing"):
        lines.append(f"Area: no table yet; {ar['how']}.")
    else:
        cols = [c for c in ("LUT", "FF", "DSP", "BRAM36", "BRAM18") if c in ar]
        lines += [f"Area at {ar['lanes']} lanes (Yosys synth_xilinx, from `{ar['source']}`):", "",
                  "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols), "| " + " | ".join(fmt(ar[c]) for c in cols) + " |"]
    return "\n".join(lines) + "\n"


def _plots(out: Path, x, y, float_cls, hw_cls, fig: dict, k: int) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .model.train import plot_overlays
    names = fig["classes"]
    files = [plot_overlays(x[:4], y[:4], {"float": float_cls[:4], "simulated hardware": hw_cls[:4]}, k,
                           out / "overlays.png", class_names=names)]
    # per-layer SQNR
    layers = fig["layers"]
    vals = [r["sqnr_db"] if math.isfinite(r["sqnr_db"]) else 0.0 for r in layers]
    f, ax = plt.subplots(figsize=(max(6, 0.32 * len(layers)), 3.6))
    ax.bar(range(len(layers)), vals, color=["#4c72b0" if r["op"] == "conv2d" else "#dd8452" for r in layers])
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels([r["tensor"] for r in layers], rotation=90, fontsize=7)
    ax.set_ylabel("SQNR vs float (dB)")
    ax.set_title("simulated hardware vs float, per IR tensor (blue: conv accumulators; below 0 dB: error > signal)")
    f.tight_layout()
    f.savefig(out / "sqnr.png", dpi=110)
    plt.close(f)
    files.append(out / "sqnr.png")
    # confusion matrices, row-normalised
    f, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for ax, key in zip(axes, ("float", "hardware")):
        cm = np.asarray(fig["confusion"][key], dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        ax.set_title(f"{key}")
        ax.set_xlabel("prediction")
        ax.set_ylabel("truth")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xticklabels(names, rotation=90, fontsize=6)
        ax.set_yticklabels(names, fontsize=6)
    f.tight_layout()
    f.savefig(out / "confusion.png", dpi=110)
    plt.close(f)
    files.append(out / "confusion.png")
    # per-class IoU, float vs hardware
    m = fig["metrics"]
    fl = [m["float"]["iou"][c] or 0.0 for c in names]
    hw = [m["hardware"]["iou"][c] or 0.0 for c in names]
    f, ax = plt.subplots(figsize=(max(6, 0.4 * k), 3.6))
    pos = np.arange(k)
    ax.bar(pos - 0.2, fl, 0.4, label="float")
    ax.bar(pos + 0.2, hw, 0.4, label="simulated hardware")
    ax.set_xticks(pos)
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    ax.legend()
    f.tight_layout()
    f.savefig(out / "iou.png", dpi=110)
    plt.close(f)
    files.append(out / "iou.png")
    return files
