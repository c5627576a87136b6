"""Pascal VOC 2012 from a local folder (palette PNG masks read as indices)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import DatasetError, _Base, _pair_shapes, _read_image, _read_index_mask

VOC_CLASSES = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor"]


class VOCSegmentation(_Base):
    """Pascal VOC 2012 segmentation from a local VOCdevkit folder (palette masks, 255 = void)."""

    def __init__(self, root, split="train", size=(64, 64), augment=None, seed=0):
        super().__init__(size, augment if augment is not None else split == "train", seed)
        if root is None:
            raise DatasetError("voc: --data-root is required (the folder holding VOCdevkit/VOC2012)")
        root = Path(root)
        cands = [root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"]
        base = next((c for c in cands if (c / "ImageSets" / "Segmentation").is_dir()), None)
        if base is None:
            raise DatasetError(f"voc: {root} is not a VOC 2012 folder (expected ImageSets/Segmentation under "
                               f"{root}, {root}/VOC2012 or {root}/VOCdevkit/VOC2012)")
        lst = base / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not lst.is_file():
            raise DatasetError(f"voc: split list {lst} is missing (splits: train, val, trainval)")
        self.ids = [s.strip() for s in lst.read_text().splitlines() if s.strip()]
        if not self.ids:
            raise DatasetError(f"voc: split list {lst} is empty")
        self.base = base
        self.num_classes = 21
        self.class_names = list(VOC_CLASSES)
        for i in self.ids:
            for p in (self._img(i), self._mask(i)):
                if not p.is_file():
                    raise DatasetError(f"voc: {p} is missing (listed in {lst})")

    def _img(self, i):
        return self.base / "JPEGImages" / f"{i}.jpg"

    def _mask(self, i):
        return self.base / "SegmentationClass" / f"{i}.png"

    def __len__(self):
        return len(self.ids)

    def _load(self, i):
        ip, mp = self._img(self.ids[i]), self._mask(self.ids[i])
        img = _read_image(ip)
        mask = _read_index_mask(mp, "VOC")
        _pair_shapes(img, mask, ip, mp)
        return img, self._check_mask(mask.astype(np.int64), mp)


# ---------------------------------------------------------------------------
# CamVid
