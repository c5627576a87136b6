"""Validation images beside an IR: RUN/val.npz, written by `unetaccel quantize`.

Keys: ``images`` uint8 N x C x H x W, ``labels`` int64 N x H x W (255 = ignore).
csim, rtlsim and fsicsim read real images from here without importing torch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .graph import IR, IRError


def val_path(ir_path) -> Path:
    return Path(ir_path).with_suffix(".json").parent / "val.npz"


def save_val(path, images: np.ndarray, labels: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, images=np.ascontiguousarray(images, dtype=np.uint8),
                 labels=np.ascontiguousarray(labels, dtype=np.int64))
    return path


def load_val(ir_path, ir: IR, n: int | None = None):
    """(images N x C x H x W uint8, labels N x H x W) from the val.npz beside the IR."""
    p = val_path(ir_path)
    if not p.is_file():
        raise IRError(f"{p}: no validation images beside the IR (`unetaccel quantize` writes them)")
    with np.load(p, allow_pickle=False) as z:
        if "images" not in z.files:
            raise IRError(f"{p}: missing array 'images'")
        images, labels = z["images"], z["labels"] if "labels" in z.files else None
    want = (ir.in_channels, *ir.size)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != want:
        raise IRError(f"{p}: 'images' is {images.dtype}{list(images.shape)}, expected uint8 [N, {', '.join(map(str, want))}]")
    if n is not None:
        if n > len(images):
            raise IRError(f"{p}: {n} images asked for, the file has {len(images)}")
        images = images[:n]
        labels = labels[:n] if labels is not None else None
    return images, labels


def input_images(ir_path, ir: IR, n: int, random_images: bool = False, seed: int = 0, log=print) -> np.ndarray:
    """The images a simulation rung runs: N random uint8 images (seed logged, so a failure can be
    rerun), else the first N of the val.npz beside the IR (load_val)."""
    if random_images:
        log(f"random images, seed {seed}")
        return np.random.default_rng(seed).integers(0, 256, (n, ir.in_channels, *ir.size), dtype=np.uint8)
    return load_val(ir_path, ir, n)[0]
