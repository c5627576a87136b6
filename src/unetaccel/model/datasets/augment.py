"""Resizing (image bilinear, mask nearest) and training augmentation."""
from __future__ import annotations

import numpy as np
from PIL import Image

IGNORE_INDEX = 255  # the mask value of pixels every loss and metric ignores

def resize_pair(img: np.ndarray, mask: np.ndarray, size, rng=None):
    """Resize the shorter side to cover `size` (bilinear image, NEAREST mask) and crop:
    centred without rng, at a random offset with one. img H x W x C uint8, mask H x W."""
    th, tw = size
    h, w = mask.shape
    s = max(th / h, tw / w)
    nh, nw = max(th, round(h * s)), max(tw, round(w * s))
    if (nh, nw) != (h, w):
        img = np.asarray(Image.fromarray(img.squeeze(-1) if img.shape[-1] == 1 else img)
                         .resize((nw, nh), Image.BILINEAR)).reshape(nh, nw, -1)
        mask = np.asarray(Image.fromarray(mask.astype(np.uint8)).resize((nw, nh), Image.NEAREST))
    if rng is None:
        y0, x0 = (nh - th) // 2, (nw - tw) // 2
    else:
        y0, x0 = int(rng.integers(0, nh - th + 1)), int(rng.integers(0, nw - tw + 1))
    return img[y0:y0 + th, x0:x0 + tw], mask[y0:y0 + th, x0:x0 + tw]


class Augment:
    """Training augmentation: horizontal flip, small rotation, brightness/contrast, noise.
    Deterministic given (seed, epoch, index). The mask is never interpolated (NEAREST,
    new corners = ignore)."""

    def __init__(self, flip=0.5, max_rotate=10.0, brightness=0.15, contrast=0.15, noise=4.0):
        self.flip, self.max_rotate = flip, max_rotate
        self.brightness, self.contrast, self.noise = brightness, contrast, noise

    def __call__(self, img: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        """img H x W x C uint8, mask H x W (values < 256) -> augmented copies."""
        if rng.random() < self.flip:
            img, mask = img[:, ::-1], mask[:, ::-1]
        if self.max_rotate > 0:
            ang = float(rng.uniform(-self.max_rotate, self.max_rotate))
            c = img.shape[2]
            pil = Image.fromarray(np.ascontiguousarray(img.squeeze(-1) if c == 1 else img))
            img = np.asarray(pil.rotate(ang, resample=Image.BILINEAR)).reshape(img.shape)
            mask = np.asarray(Image.fromarray(np.ascontiguousarray(mask).astype(np.uint8))
                              .rotate(ang, resample=Image.NEAREST, fillcolor=IGNORE_INDEX))
        f = img.astype(np.float32)
        mean = f.mean()
        f = (f - mean) * (1 + rng.uniform(-self.contrast, self.contrast)) + mean
        f = f * (1 + rng.uniform(-self.brightness, self.brightness))
        if self.noise > 0:
            f = f + rng.normal(0, self.noise, f.shape)
        return np.clip(np.rint(f), 0, 255).astype(np.uint8), np.ascontiguousarray(mask)
