"""Tiny dataset fixtures written by the tests (shared by the dataset and training tests)."""
import numpy as np
from PIL import Image

VOC_LABELS = {0, 7, 15, 255}  # the values the VOC fixture's masks hold


def rgb(h=20, w=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def voc(root, ids=("a", "b"), mode="P"):
    base = root / "VOCdevkit" / "VOC2012"
    for d in ("ImageSets/Segmentation", "JPEGImages", "SegmentationClass"):
        (base / d).mkdir(parents=True, exist_ok=True)
    (base / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids) + "\n")
    (base / "ImageSets/Segmentation/val.txt").write_text(ids[0] + "\n")
    for k, i in enumerate(ids):
        Image.fromarray(rgb(seed=k)).save(base / "JPEGImages" / f"{i}.jpg")
        m = np.zeros((20, 24), np.uint8)
        m[2:8, 3:9] = 7
        m[10:15, 10:20] = 15
        m[0, :] = 255
        if mode == "P":
            im = Image.fromarray(m, mode="P")
            pal = np.random.default_rng(0).integers(0, 256, 768).tolist()
            im.putpalette(pal)
        else:
            im = Image.fromarray(m).convert("RGB")
        im.save(base / "SegmentationClass" / f"{i}.png")
    return base
