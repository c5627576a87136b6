"""CamVid: RGB colour-coded masks with a class-colour table."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from .base import IGNORE_INDEX, IMAGE_EXTS, DatasetError, _Base, _pair_shapes, _read_image

CAMVID_TABLE = [
    ("Animal", (64, 128, 64)), ("Archway", (192, 0, 128)), ("Bicyclist", (0, 128, 192)), ("Bridge", (0, 128, 64)),
    ("Building", (128, 0, 0)), ("Car", (64, 0, 128)), ("CartLuggagePram", (64, 0, 192)), ("Child", (192, 128, 64)),
    ("Column_Pole", (192, 192, 128)), ("Fence", (64, 64, 128)), ("LaneMkgsDriv", (128, 0, 192)),
    ("LaneMkgsNonDriv", (192, 0, 64)), ("Misc_Text", (128, 128, 64)), ("MotorcycleScooter", (192, 0, 192)),
    ("OtherMoving", (128, 64, 64)), ("ParkingBlock", (64, 192, 128)), ("Pedestrian", (64, 64, 0)),
    ("Road", (128, 64, 128)), ("RoadShoulder", (128, 128, 192)), ("Sidewalk", (0, 0, 192)),
    ("SignSymbol", (192, 128, 128)), ("Sky", (128, 128, 128)), ("SUVPickupTruck", (64, 128, 192)),
    ("TrafficCone", (0, 0, 64)), ("TrafficLight", (0, 64, 64)), ("Train", (192, 64, 128)), ("Tree", (128, 128, 0)),
    ("Truck_Bus", (192, 128, 192)), ("Tunnel", (64, 0, 64)), ("VegetationMisc", (192, 192, 0)), ("Void", (0, 0, 0)),
    ("Wall", (64, 192, 0)),
]


def read_class_dict(path) -> list[tuple[str, tuple[int, int, int]]]:
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as e:
        raise DatasetError(f"camvid: cannot read {path} ({e})") from None
    if not rows or [c.strip().lower() for c in rows[0][:4]] != ["name", "r", "g", "b"]:
        raise DatasetError(f"camvid: {path} must start with the header 'name,r,g,b', got {rows[0] if rows else 'nothing'}")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        try:
            out.append((row[0], (int(row[1]), int(row[2]), int(row[3]))))
        except (ValueError, IndexError):
            raise DatasetError(f"camvid: {path} line {n}: expected name,r,g,b with integer colours, got {row}") from None
    return out


class CamVid(_Base):
    """RGB colour-coded masks mapped to class indices through a class-colour table.

    Layout: root/{split}/*.png images, root/{split}_labels/<stem>_L.png masks and an
    optional root/class_dict.csv (name,r,g,b; else the built-in 32-class table). Colours
    not in the table become ignore (255), unless nearest_colour=True maps every pixel
    to the nearest table colour (for masks saved lossily). With void_as_ignore, the
    class named "Void" is ignored and the others are renumbered.
    """

    def __init__(self, root, split="train", size=(64, 64), augment=None, seed=0, nearest_colour=False,
                 void_as_ignore=True):
        super().__init__(size, augment if augment is not None else split == "train", seed)
        if root is None:
            raise DatasetError("camvid: --data-root is required")
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"camvid: {root} is not a folder")
        table = read_class_dict(root / "class_dict.csv") if (root / "class_dict.csv").is_file() else list(CAMVID_TABLE)
        self.colours = np.array([c for _, c in table], dtype=np.int64)
        names = [n for n, _ in table]
        self.lut_index = np.arange(len(table))
        if void_as_ignore and "Void" in names:
            v = names.index("Void")
            self.lut_index = np.array([IGNORE_INDEX if k == v else k - (k > v) for k in range(len(table))])
            names = [n for n in names if n != "Void"]
        self.class_names = names
        self.num_classes = len(names)
        self.nearest = nearest_colour
        idir, mdir = root / split, root / f"{split}_labels"
        for d in (idir, mdir):
            if not d.is_dir():
                raise DatasetError(f"camvid: {d} is missing (expected {split}/ images and {split}_labels/ masks)")
        self.items = []
        for ip in sorted(p for p in idir.iterdir() if p.suffix.lower() in IMAGE_EXTS):
            mp = next((m for m in (mdir / f"{ip.stem}_L.png", mdir / f"{ip.stem}.png") if m.is_file()), None)
            if mp is None:
                raise DatasetError(f"camvid: image {ip} has no mask ({mdir / (ip.stem + '_L.png')} expected)")
            self.items.append((ip, mp))
        if not self.items:
            raise DatasetError(f"camvid: no images in {idir}")
        # exact-colour lookup: r*65536 + g*256 + b -> table row
        self.keys = self.colours[:, 0] * 65536 + self.colours[:, 1] * 256 + self.colours[:, 2]

    def __len__(self):
        return len(self.items)

    def rgb_to_index(self, rgb: np.ndarray) -> np.ndarray:
        rgb = rgb.astype(np.int64)
        if self.nearest:
            d = ((rgb[..., None, :] - self.colours[None, None]) ** 2).sum(-1)
            row = d.argmin(-1)
            return self.lut_index[row]
        key = rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
        order = np.argsort(self.keys)
        pos = np.searchsorted(self.keys[order], key)
        pos = np.clip(pos, 0, len(order) - 1)
        found = self.keys[order][pos] == key
        return np.where(found, self.lut_index[order][pos], IGNORE_INDEX)

    def _load(self, i):
        ip, mp = self.items[i]
        img = _read_image(ip)
        try:
            with Image.open(mp) as im:
                if im.mode not in ("RGB", "RGBA"):
                    raise DatasetError(f"camvid mask {mp}: expected an RGB colour-coded mask, got mode {im.mode}")
                rgb = np.asarray(im.convert("RGB"))
        except DatasetError:
            raise
        except Exception as e:
            raise DatasetError(f"camvid mask {mp}: cannot be read ({e})") from None
        _pair_shapes(img, rgb, ip, mp)
        return img, self.rgb_to_index(rgb)


# ---------------------------------------------------------------------------
# folder
