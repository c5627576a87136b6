"""The embedded synthetic dataset: shapes and textures from a seed, no files."""
from __future__ import annotations

import math

import numpy as np

from .base import DatasetError, _Base, _seed

SHAPES = ("disc", "square", "triangle", "ring", "cross", "diamond", "bar")
TEXTURES = ("solid", "hstripes", "vstripes", "checker", "dots")


def _class_table(num_classes: int):
    """Object class k (1-based) -> (shape, texture, size). (k-1) -> (k-1 mod 7, k-1 mod 5) is
    one-to-one for the 35 combinations (7 and 5 are coprime), so neighbouring classes
    differ in both shape and texture; size alternates on top."""
    n = len(SHAPES) * len(TEXTURES)
    if num_classes - 1 > n:
        raise DatasetError(f"synthetic: at most {n + 1} classes can be made distinct, {num_classes} asked for")
    return [(SHAPES[k % len(SHAPES)], TEXTURES[k % len(TEXTURES)], "small" if k % 3 == 2 else "large")
            for k in range(num_classes - 1)]


def _shape_mask(shape, yy, xx, cy, cx, r, ang):
    dy, dx = yy - cy, xx - cx
    ca, sa = math.cos(ang), math.sin(ang)
    u, v = dx * ca + dy * sa, -dx * sa + dy * ca
    if shape == "disc":
        return u * u + v * v <= r * r
    if shape == "square":
        return (np.abs(u) <= r * 0.85) & (np.abs(v) <= r * 0.85)
    if shape == "triangle":
        return (v <= r * 0.7) & (v >= -r + 1.7 * np.abs(u))
    if shape == "ring":
        d = u * u + v * v
        return (d <= r * r) & (d >= (0.55 * r) ** 2)
    if shape == "cross":
        return ((np.abs(u) <= r * 0.3) & (np.abs(v) <= r)) | ((np.abs(v) <= r * 0.3) & (np.abs(u) <= r))
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= r
    if shape == "bar":
        return (np.abs(u) <= r) & (np.abs(v) <= r * 0.35)
    raise ValueError(shape)


def _texture(tex, yy, xx, period, phase):
    if tex == "solid":
        return np.ones_like(yy, dtype=bool)
    if tex == "hstripes":
        return ((yy + phase) // period) % 2 == 0
    if tex == "vstripes":
        return ((xx + phase) // period) % 2 == 0
    if tex == "checker":
        return (((yy + phase) // period) + ((xx + phase) // period)) % 2 == 0
    if tex == "dots":
        return ((yy + phase) % (2 * period) < period) & ((xx + phase) % (2 * period) < period)
    raise ValueError(tex)


class SyntheticShapes(_Base):
    """Embedded synthetic segmentation data: textured shapes on a noisy background.

    Class k >= 1 is a (shape, texture, size) combination; object colours are drawn at
    random from one shared distribution, so a class cannot be read from a pixel's colour.
    1-4 objects per image, later ones occluding earlier ones (the mask follows).
    """

    def __init__(self, split="train", size=(64, 64), num_classes=21, length=None, augment=None, seed=0):
        super().__init__(size, augment if augment is not None else split == "train", seed)
        if split not in ("train", "val", "test"):
            raise DatasetError(f"synthetic: split {split!r} is not one of train, val, test")
        self.split = split
        self.num_classes = int(num_classes)
        if self.num_classes < 2:
            raise DatasetError("synthetic: need at least 2 classes (background + 1)")
        self.table = _class_table(self.num_classes)
        self.class_names = ["background"] + [f"{s}-{t}-{z}" for s, t, z in self.table]
        self.length = int(length) if length is not None else (2048 if split == "train" else 128)
        # item i is a pure function of (seed, split, i): generated once, kept (64x64x3: 12 KiB an
        # item), since drawing it costs more than augmenting it
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    CACHE_ITEMS = 20000

    def __len__(self):
        return self.length

    def _load(self, i):
        hit = self._cache.get(i)
        if hit is None:
            hit = self._draw(i)
            if len(self._cache) < self.CACHE_ITEMS:
                self._cache[i] = hit
        return hit[0].copy(), hit[1].copy()

    def _draw(self, i):
        h, w = self.size
        rng = np.random.default_rng(_seed(self.seed, self.split, i))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = rng.uniform(40, 200, size=3)
        grad = rng.uniform(-40, 40, size=3)
        bg = base[None, None] + grad[None, None] * (xx / w)[..., None]
        img = bg + rng.normal(0, 10, size=(h, w, 3))
        mask = np.zeros((h, w), dtype=np.int64)
        side = min(h, w)
        for _ in range(int(rng.integers(1, 5))):
            k = int(rng.integers(1, self.num_classes))
            shape, tex, sz = self.table[k - 1]
            r = side * (rng.uniform(0.22, 0.32) if sz == "large" else rng.uniform(0.11, 0.16))
            cy, cx = rng.uniform(0.15 * h, 0.85 * h), rng.uniform(0.15 * w, 0.85 * w)
            region = _shape_mask(shape, yy, xx, cy, cx, r, rng.uniform(0, math.pi / 6))
            if not region.any():
                continue
            period = max(2, int(round(side / 16)))
            on = _texture(tex, yy.astype(np.int64), xx.astype(np.int64), period, int(rng.integers(0, period)))
            c1, c2 = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
            if np.abs(c1 - c2).sum() < 150:
                c2 = 255 - c1
            col = np.where(on[..., None], c1[None, None], c2[None, None])
            img = np.where(region[..., None], col, img)
            mask[region] = k
        img = img + rng.normal(0, 6, size=img.shape)
        return np.clip(np.rint(img), 0, 255).astype(np.uint8), mask


# ---------------------------------------------------------------------------
# VOC
