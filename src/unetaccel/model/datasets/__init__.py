"""Segmentation datasets: every item is (uint8 image C x H x W, int64 mask H x W), 255 = ignore.

- ``synthetic``: the embedded default, no files; deterministic from a seed.
- ``voc``: a local Pascal VOC 2012 folder (palette PNG masks read as indices).
- ``camvid``: RGB colour-coded masks with a class-colour table.
- ``folder``: images/ + masks/ with matching names.

Pure numpy + PIL (no torch): the datasets are indexable, so torch's DataLoader takes them.

Modules: ``base`` (what every dataset shares), ``augment``, ``synthetic``, ``voc``, ``camvid``, ``folder``;
this package dispatches by name.
"""
from __future__ import annotations

from pathlib import Path

from .augment import Augment, resize_pair  # noqa: F401
from .base import DATASETS, FIXED_CLASSES, IGNORE_INDEX, IMAGE_EXTS, DatasetError, check_size  # noqa: F401
from .camvid import CAMVID_TABLE, CamVid, read_class_dict  # noqa: F401
from .folder import FolderDataset, infer_folder_classes  # noqa: F401
from .synthetic import SHAPES, TEXTURES, SyntheticShapes, _class_table  # noqa: F401
from .voc import VOC_CLASSES, VOCSegmentation  # noqa: F401


def get_dataset(name, root=None, split="train", size=(64, 64), augment=None, num_classes=None, seed=0,
                length=None, **kw):
    """A dataset by name; augment defaults to (split == "train")."""
    if name == "synthetic":
        return SyntheticShapes(split, size, num_classes or 21, length, augment, seed)
    if name == "voc":
        return VOCSegmentation(root, split, size, augment, seed)
    if name == "camvid":
        return CamVid(root, split, size, augment, seed, **kw)
    if name == "folder":
        return FolderDataset(root, split, size, num_classes, augment, seed)
    raise DatasetError(f"dataset {name!r} is not one of {', '.join(DATASETS)}")


def dataset_info(name, root=None, num_classes=None) -> dict:
    """{"num_classes", "class_names"} without loading images (to build the model first)."""
    if name == "synthetic":
        k = num_classes or 21
        _class_table(k)
        return {"num_classes": k, "class_names": SyntheticShapes(num_classes=k, length=1).class_names}
    if name == "voc":
        VOCSegmentation(root, "train")  # validates the layout
        return {"num_classes": 21, "class_names": list(VOC_CLASSES)}
    if name == "camvid":
        ds = CamVid(root, "train")
        return {"num_classes": ds.num_classes, "class_names": ds.class_names}
    if name == "folder":
        if root is None or not (Path(root) / "masks").is_dir():
            raise DatasetError(f"folder: {root}/masks is missing (expected {root}/images and {root}/masks)")
        k = num_classes or infer_folder_classes(root)
        return {"num_classes": k, "class_names": [str(i) for i in range(k)]}
    raise DatasetError(f"dataset {name!r} is not one of {', '.join(DATASETS)}")
