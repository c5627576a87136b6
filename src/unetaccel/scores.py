"""Segmentation scores on class maps and the error of one tensor against another: NumPy only, so
that the report, the simulators' callers and the model share them without importing torch.

`confusion` / `metrics_from_confusion` (pixel accuracy, IoU, Dice, precision, recall, F1 per
class and their means), `agreement` (how often two class maps agree, overall and per class of the
first), `sqnr_db` (signal-to-quantization-noise ratio of a tensor against its reference).
"""
from __future__ import annotations

import numpy as np

IGNORE_INDEX = 255


def confusion(pred: np.ndarray, target: np.ndarray, num_classes: int,
              ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """num_classes x num_classes counts, rows = truth, columns = prediction."""
    pred = np.asarray(pred).ravel().astype(np.int64)
    target = np.asarray(target).ravel().astype(np.int64)
    keep = target != ignore_index
    if np.any(target[keep] >= num_classes) or np.any(target[keep] < 0):
        raise ValueError(f"labels outside [0, {num_classes}) found (besides ignore {ignore_index})")
    idx = target[keep] * num_classes + np.clip(pred[keep], 0, num_classes - 1)
    return np.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def metrics_from_confusion(cm: np.ndarray, class_names=None) -> dict:
    """Pixel accuracy, mean IoU (over classes seen in truth or prediction), per-class IoU,
    Dice, precision, recall and F1 (NaN where undefined)."""
    cm = cm.astype(np.float64)
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = tp / (tp + fp + fn)
        dice = 2 * tp / (2 * tp + fp + fn)
        precision = tp / (tp + fp)
        recall = tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
    total = cm.sum()
    k = cm.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]

    def per_class(v):
        return {names[i]: (None if np.isnan(v[i]) else float(v[i])) for i in range(k)}

    return {
        "pixel_accuracy": float(tp.sum() / total) if total else float("nan"),
        "mean_iou": float(np.nanmean(iou)) if np.any(~np.isnan(iou)) else float("nan"),
        "mean_dice": float(np.nanmean(dice)) if np.any(~np.isnan(dice)) else float("nan"),
        "mean_f1": float(np.nanmean(f1)) if np.any(~np.isnan(f1)) else float("nan"),
        "iou": per_class(iou), "dice": per_class(dice), "precision": per_class(precision),
        "recall": per_class(recall), "f1": per_class(f1),
        "pixels": int(total),
    }


def segmentation_metrics(pred, target, num_classes, class_names=None) -> dict:
    return metrics_from_confusion(confusion(pred, target, num_classes), class_names)


def agreement(a: np.ndarray, b: np.ndarray, num_classes: int, class_names=None) -> dict:
    """How often class map b agrees with class map a (same shape): the share of all pixels, and
    per class of a the share of a's pixels of that class where b says the same (None where a never
    says it)."""
    a = np.asarray(a).ravel().astype(np.int64)
    b = np.asarray(b).ravel().astype(np.int64)
    if a.shape != b.shape:
        raise ValueError(f"class maps of {a.size} and {b.size} pixels")
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    per = {}
    for c in range(num_classes):
        n = int((a == c).sum())
        per[names[c]] = float((b[a == c] == c).mean()) if n else None
    return {"pixels": int(a.size), "agree": float((a == b).mean()) if a.size else float("nan"), "per_class": per}


def sqnr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """10 log10(sum(reference^2) / sum((test - reference)^2)) in dB: inf when test equals the
    reference, -inf when the reference is all zero and test is not."""
    ref = np.asarray(reference, dtype=np.float64)
    err = np.asarray(test, dtype=np.float64) - ref
    if ref.shape != err.shape:
        raise ValueError(f"tensors of shapes {ref.shape} and {err.shape}")
    noise, signal = float(np.sum(err * err)), float(np.sum(ref * ref))
    if noise == 0:
        return float("inf")
    if signal == 0:
        return float("-inf")
    return float(10 * np.log10(signal / noise))
