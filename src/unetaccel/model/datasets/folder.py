"""A folder of images/ and masks/ with matching names."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import IGNORE_INDEX, IMAGE_EXTS, DatasetError, _Base, _pair_shapes, _read_image, _read_index_mask

class FolderDataset(_Base):
    """root/images/ + root/masks/ (single-channel index PNGs) with matching file stems.

    Splits: root/images/{split}/ when present, else a deterministic 80/20 split of the
    sorted stems (train / val), or "all"."""

    def __init__(self, root, split="train", size=(64, 64), num_classes=None, augment=None, seed=0):
        super().__init__(size, augment if augment is not None else split == "train", seed)
        if root is None:
            raise DatasetError("folder: --data-root is required (a folder with images/ and masks/)")
        root = Path(root)
        idir, mdir = root / "images", root / "masks"
        for d in (idir, mdir):
            if not d.is_dir():
                raise DatasetError(f"folder: {d} is missing (expected {root}/images and {root}/masks)")
        if (idir / split).is_dir():
            idir, mdir = idir / split, mdir / split
        imgs = sorted(p for p in idir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
        if not imgs:
            raise DatasetError(f"folder: no images (.png/.jpg/.jpeg/.bmp) in {idir}")
        pairs = []
        for ip in imgs:
            mp = mdir / f"{ip.stem}.png"
            if not mp.is_file():
                raise DatasetError(f"folder: image {ip} has no mask {mp}")
            pairs.append((ip, mp))
        if idir.name != split and split != "all":
            if split not in ("train", "val"):
                raise DatasetError(f"folder: split {split!r}: use train, val or all (or images/{split}/ subfolders)")
            cut = max(1, int(round(0.8 * len(pairs)))) if len(pairs) > 1 else 1
            pairs = pairs[:cut] if split == "train" else pairs[cut:]
            if not pairs:
                raise DatasetError(f"folder: {root} has too few images for a {split} split")
        self.items = pairs
        self.num_classes = int(num_classes) if num_classes else infer_folder_classes(root)
        self.class_names = [str(k) for k in range(self.num_classes)]

    def __len__(self):
        return len(self.items)

    def _load(self, i):
        ip, mp = self.items[i]
        img = _read_image(ip)
        mask = _read_index_mask(mp, "folder")
        _pair_shapes(img, mask, ip, mp)
        return img, self._check_mask(mask.astype(np.int64), mp)


def infer_folder_classes(root) -> int:
    mdir = Path(root) / "masks"
    top = 0
    for mp in sorted(mdir.rglob("*.png")):
        m = _read_index_mask(mp, "folder")
        v = m[m != IGNORE_INDEX]
        if v.size:
            top = max(top, int(v.max()))
    return top + 1 if top > 0 else 2
