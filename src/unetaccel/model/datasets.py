"""Segmentation datasets: every item is (uint8 image C x H x W, int64 mask H x W), 255 = ignore.

- ``synthetic``: the embedded default, no files; deterministic from a seed.
- ``voc``: a local Pascal VOC 2012 folder (palette PNG masks read as indices).
- ``camvid``: RGB colour-coded masks with a class-colour table.
- ``folder``: images/ + masks/ with matching names.

Pure numpy + PIL (no torch): the datasets are indexable, so torch's DataLoader takes them.
"""
from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import UnetaccelError

IGNORE_INDEX = 255
DATASETS = ("synthetic", "voc", "camvid", "folder")
FIXED_CLASSES = ("voc", "camvid")  # their labels fix the class count (synthetic and folder take num_classes)
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp")


class DatasetError(UnetaccelError, ValueError):
    """A missing or malformed dataset; the message names the path and what was expected."""


def _seed(*parts) -> int:
    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


# ---------------------------------------------------------------------------
# resizing and augmentation


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


# ---------------------------------------------------------------------------
# entry points


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
