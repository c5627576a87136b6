"""What every dataset shares: the ignore index, the error type, the size check, file readers and
the indexable base class."""
from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from ...errors import UnetaccelError
from .augment import IGNORE_INDEX, Augment, resize_pair  # noqa: F401  (IGNORE_INDEX is re-exported)

DATASETS = ("synthetic", "voc", "camvid", "folder")
FIXED_CLASSES = ("voc", "camvid")  # their labels fix the class count (synthetic and folder take num_classes)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")


class DatasetError(UnetaccelError, ValueError):
    """A missing or malformed dataset; the message names the path and what was expected."""


def _seed(*parts) -> int:
    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def check_size(size) -> tuple[int, int]:
    """(height, width) as two positive integers, else a DatasetError naming the value."""
    try:
        h, w = size
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DatasetError(f"size {size!r}: expected (height, width), two positive integers")
    if h < 1 or w < 1:
        raise DatasetError(f"size {h}x{w}: height and width must be positive")
    return int(h), int(w)


class _Base:
    """Shared item pipeline: load -> resize/crop -> augment -> CHW."""

    num_classes: int
    class_names: list

    def __init__(self, size, augment, seed):
        self.size = check_size(size)
        self.augment = Augment() if augment is True else (augment or None)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _load(self, i):  # -> (H x W x C uint8, H x W int)
        raise NotImplementedError

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        img, mask = self._load(i)
        rng = np.random.default_rng(_seed(self.seed, self.epoch, i, "aug")) if self.augment else None
        img, mask = resize_pair(img, mask, self.size, rng)
        if self.augment:
            img, mask = self.augment(img, mask, rng)
        return np.ascontiguousarray(img.transpose(2, 0, 1)), mask.astype(np.int64)

    def _check_mask(self, mask: np.ndarray, path) -> np.ndarray:
        bad = (mask >= self.num_classes) & (mask != IGNORE_INDEX)
        if bad.any():
            raise DatasetError(f"mask {path}: values {sorted(set(np.unique(mask[bad]).tolist()))[:5]} are not "
                               f"class indices below {self.num_classes} nor the ignore value {IGNORE_INDEX}")
        return mask


def _read_image(path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except Exception as e:
        raise DatasetError(f"image {path}: cannot be read as an image ({e})") from None


def _read_index_mask(path, what) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L"):
                raise DatasetError(f"{what} mask {path}: expected a single-channel PNG of class indices "
                                   f"(palette P or grey L mode), got mode {im.mode}")
            return np.array(im)  # raw indices: never converted, never divided by 255
    except DatasetError:
        raise
    except Exception as e:
        raise DatasetError(f"{what} mask {path}: cannot be read ({e})") from None


def _pair_shapes(img, mask, ipath, mpath):
    if img.shape[:2] != mask.shape[:2]:
        raise DatasetError(f"mask {mpath}: size {mask.shape[1]}x{mask.shape[0]} does not match its image "
                           f"{ipath} ({img.shape[1]}x{img.shape[0]})")


# ---------------------------------------------------------------------------
# synthetic

# (shape, texture, size) per object class; colours are random and shared by all classes,
# so the class is in the shape, the texture and the size, never in one pixel's colour.
