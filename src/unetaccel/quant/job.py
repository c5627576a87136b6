"""`unetaccel quantize`: QAT from a float checkpoint, export (QONNX + IR), and the exactness check."""
from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from brevitas.graph.calibrate import calibration_mode

from ..ir import reference as R
from ..ir import save as save_ir
from ..ir.data import save_val
from ..ir.graph import IR
from ..threads import apply_torch_threads
from ..model.train import (TrainConfig, build_datasets, evaluate, fit, load_checkpoint, make_loader,
                           plot_history, plot_overlays, predict, sample_batch, seed_everything, to_input)
from .export import export_qonnx, qonnx_to_ir
from .qmodel import ACT_BITS, WEIGHT_BITS, QuantUNet, from_float


class ExactnessError(RuntimeError):
    """The Brevitas model and the IR cannot be compared tensor by tensor (their layer sequences differ).

    A bug of the exporter, not bad input: it is not a :class:`~unetaccel.errors.UnetaccelError`, so the
    CLI reports it as an internal error (exit 3)."""


def calibrate(qmodel: QuantUNet, loader, batches: int = 8) -> None:
    """Initialise the activation scales from statistics (Brevitas calibration mode)."""
    qmodel.train()
    with torch.no_grad(), calibration_mode(qmodel):
        for i, (imgs, _) in enumerate(loader):
            if i >= batches:
                break
            qmodel(to_input(imgs))
    qmodel.eval()


def brevitas_trace(qmodel: QuantUNet, images_u8: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(op, integer codes) of every IR tensor, in IR order, from Brevitas evaluated in float64."""
    dtype = next(qmodel.parameters()).dtype
    qmodel.double().eval()
    tr: list = []
    try:
        with torch.no_grad():
            qmodel(torch.from_numpy(images_u8).double() / 256.0, trace=tr)
    finally:
        qmodel.to(dtype)
    return [(k, t.int().numpy().astype(np.int64)) for k, t in tr]


def compare(qmodel: QuantUNet, ir: IR, images_u8: np.ndarray, batch: int = 8) -> tuple[int, list[dict]]:
    """Brevitas (float64) vs the NumPy reference at every IR tensor and the class map.

    Returns (mismatches, rows); rows give per tensor the count of differing values
    and the first differing index with both values."""
    names = [ir.input] + [lay.output for lay in ir.layers if lay.op != "argmax"]
    kinds = ["input"] + [lay.op for lay in ir.layers if lay.op != "argmax"]
    rows = {n: {"tensor": n, "op": k, "values": 0, "mismatches": 0, "first": None} for n, k in zip(names, kinds)}
    rows[ir.classes] = {"tensor": ir.classes, "op": "argmax", "values": 0, "mismatches": 0, "first": None}
    for i in range(0, len(images_u8), batch):
        x = images_u8[i:i + batch]
        bt = brevitas_trace(qmodel, x)
        traced = [k for k, _ in bt]
        if traced != kinds:
            at = next((j for j, (a, b) in enumerate(zip(traced, kinds)) if a != b), min(len(traced), len(kinds)))
            raise ExactnessError(
                f"cannot compare Brevitas with the reference: the Brevitas model's layer sequence does not match "
                f"the IR '{ir.name}' ({len(bt)} traced tensors for {len(kinds)} IR tensors; first difference at "
                f"tensor {at}: Brevitas {traced[at] if at < len(traced) else 'nothing'}, "
                f"IR {names[at] + ' (' + kinds[at] + ')' if at < len(kinds) else 'nothing'})")
        ref = R.run(ir, x, trace=True)
        pairs = [(n, b, ref.trace[n]) for n, (_, b) in zip(names, bt)]
        pairs.append((ir.classes, bt[-1][1].argmax(axis=1), ref.classes))
        for n, a, b in pairs:
            row = rows[n]
            row["values"] += int(b.size)
            if a.shape != b.shape:
                row["mismatches"] += int(b.size)
                row["first"] = row["first"] or f"shape {list(a.shape)} vs {list(b.shape)}"
                continue
            diff = a != b
            nd = int(diff.sum())
            if nd and row["first"] is None:
                idx = tuple(int(v) for v in np.argwhere(diff)[0])
                row["first"] = f"index {list((idx[0] + i,) + idx[1:])}: brevitas {int(a[idx])}, reference {int(b[idx])}"
            row["mismatches"] += nd
    out = list(rows.values())
    return sum(r["mismatches"] for r in out), out


def quantize(checkpoint, out, epochs: int = 2, seed: int = 0, lr: float = 3e-3, val_images: int = 16,
             weight_bits: int = WEIGHT_BITS, act_bits: int = ACT_BITS, progress: bool = True,
             train_length: int | None = None, val_length: int | None = None, log=print) -> dict:
    """QAT from a float checkpoint; writes RUN/model.json+npz, RUN/model.onnx, RUN/val.npz,
    RUN/quant.pt, RUN/quant_metrics.json, RUN/quant_loss.png, RUN/quant_predictions.png.
    Returns the metrics dict, which includes the Brevitas-vs-reference mismatches."""
    apply_torch_threads()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, ck = load_checkpoint(checkpoint)
    tc = dict(ck.get("train_config") or {})
    cfg = TrainConfig(**{k: v for k, v in tc.items() if k in TrainConfig.__dataclass_fields__})
    cfg.seed = seed
    if train_length is not None:
        cfg.train_length = train_length
    if val_length is not None:
        cfg.val_length = val_length
    cfg.size = tuple(model.config.size)
    cfg.widths = tuple(model.config.widths)
    cfg.classes = model.config.num_classes
    seed_everything(seed)
    train_ds, val_ds, k, names = build_datasets(cfg)
    val_loader = make_loader(val_ds, cfg.batch_size, False, seed)
    t0 = time.time()
    float_val = evaluate(model, val_loader, k, names)
    qmodel = from_float(model, weight_bits, act_bits)
    calibrate(qmodel, make_loader(train_ds, cfg.batch_size, True, seed))
    ptq_val = evaluate(qmodel, val_loader, k, names)
    log(f"post-training quantization: val mIoU {ptq_val['mean_iou']:.4f} (float {float_val['mean_iou']:.4f})")
    hist = None
    if epochs > 0:
        hist = fit(qmodel, train_ds, val_ds, k, epochs=epochs, lr=lr, batch_size=cfg.batch_size, beta=cfg.beta,
                   class_weights=cfg.class_weights, seed=seed, class_names=names, progress=progress, desc="QAT")
        plot_history(hist, out / "quant_loss.png", "W5A8 QAT")
    qmodel.eval()
    quant_val = evaluate(qmodel, val_loader, k, names)
    torch.save({"config": model.config.to_dict(), "state_dict": qmodel.state_dict(),
                "weight_bits": weight_bits, "act_bits": act_bits}, out / "quant.pt")

    # export: QONNX (interop) -> IR (built from the QONNX graph)
    onnx_path = export_qonnx(qmodel, out / "model.onnx", model.config.size, model.config.in_channels)
    meta = {"source": str(Path(checkpoint)), "widths": list(model.config.widths),
            "num_classes": k, "size": list(model.config.size), "class_names": names,
            "weight_bits": weight_bits, "act_bits": act_bits}
    ir = qonnx_to_ir(onnx_path, name="unet", meta=meta)
    save_ir(ir, out / "model")

    imgs, labels = sample_batch(val_ds, val_images)
    save_val(out / "val.npz", imgs, labels)
    mism, rows = compare(qmodel, ir, imgs)
    ref = R.run(ir, imgs)
    plot_overlays(imgs, labels, {"float": predict(model, imgs), "W5A8 (reference)": ref.classes}, k,
                  out / "quant_predictions.png", class_names=names)
    metrics = {
        "float": _short(float_val), "ptq": _short(ptq_val), "w5a8": _short(quant_val),
        "miou_drop_points": 100 * (float_val["mean_iou"] - quant_val["mean_iou"]),
        "qat_epochs": epochs, "seconds": time.time() - t0, "train_config": asdict(cfg),
        "exactness": {"images": int(len(imgs)), "mismatches": mism, "tensors": rows},
        "history": None if hist is None else asdict(hist),
        "float_full": float_val, "w5a8_full": quant_val,
    }
    (out / "quant_metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def _short(m: dict) -> dict:
    return {"pixel_accuracy": m["pixel_accuracy"], "mean_iou": m["mean_iou"], "mean_dice": m["mean_dice"]}
