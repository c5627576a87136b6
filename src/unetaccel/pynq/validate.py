"""`python -m unetaccel.pynq validate`: score a validation set on the board (FINN's validate.py).

Runs every image of an .npz (``images`` N x C x H x W or N x H x W x C uint8, ``labels`` N x H x W,
255 = ignore: what `unetaccel quantize` writes as RUN/val.npz) through UnetOverlay.infer and
prints the mean IoU against the labels, the agreement with the integer reference (unetaccel.ir.
reference, when the IR is known: --ir, or the one unet_accel.json names beside the bitstream) and
the frames per second. NumPy and pynq only.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from ..scores import agreement, segmentation_metrics


def _hwc(images: np.ndarray, channels: int) -> np.ndarray:
    a = np.asarray(images, dtype=np.uint8)
    if a.ndim == 3:
        a = a[..., None] if channels == 1 else a
    if a.ndim == 4 and a.shape[1] == channels and a.shape[-1] != channels:
        a = a.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(a)


def reference_map(net, image: np.ndarray, tile, overlap: int = 0) -> np.ndarray:
    """The integer reference's class map of an H x W x C picture, tiled and stitched as infer does."""
    from .. import tiling
    from ..ir import reference
    plan = tiling.plan(image.shape[0], image.shape[1], tile, overlap)
    return tiling.stitch(reference.run(net, tiling.tiles(image.transpose(2, 0, 1), plan)).classes, plan)


def validate(ol, images: np.ndarray, labels: np.ndarray | None, clock=time.monotonic, log=print) -> dict:
    """The scores of an overlay on a validation set (see the module's docstring)."""
    cfg = ol.config
    imgs = _hwc(images, cfg.input_shape[2])
    t = clock()
    maps = np.stack([ol.infer(im) for im in imgs])
    seconds = clock() - t
    out = {"images": len(imgs), "seconds": seconds, "fps": len(imgs) / seconds if seconds > 0 else float("inf")}
    if labels is not None:
        out["mean_iou"] = segmentation_metrics(maps, np.asarray(labels), cfg.num_classes)["mean_iou"]
    if ol.net is not None:
        ref = np.stack([reference_map(ol.net, im, cfg.input_shape[:2]) for im in imgs])
        out["agreement"] = agreement(ref, maps, cfg.num_classes)["agree"]
        out["mismatches"] = int(np.count_nonzero(ref != maps))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m unetaccel.pynq",
                                description="The UNet accelerator on a PYNQ board.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="mIoU, agreement with the integer reference and frames per second")
    v.add_argument("--bit", required=True, help="the bitstream (unet.hwh and unet_accel.json beside it)")
    v.add_argument("--val", required=True, help="an .npz with images and labels (RUN/val.npz)")
    v.add_argument("--ir", default=None, help="the IR (default: the one unet_accel.json names, beside it)")
    v.add_argument("--images", type=int, default=None, help="the first N images only")
    v.add_argument("--no-download", action="store_true", help="use the bitstream already loaded")
    a = p.parse_args(argv)
    from . import UnetOverlay
    ol = UnetOverlay(a.bit, ir=a.ir, download=not a.no_download)
    data = np.load(a.val)
    n = a.images
    images = data["images"][:n]
    labels = data["labels"][:n] if "labels" in data else None
    r = validate(ol, images, labels)
    print(f"images: {r['images']}")
    if "mean_iou" in r:
        print(f"mIoU: {r['mean_iou']:.4f}")
    if "agreement" in r:
        print(f"agreement with the integer reference: {100 * r['agreement']:.2f}% ({r['mismatches']} pixels differ)")
    else:
        print("agreement with the integer reference: unknown (no IR: pass --ir RUN/model.json)")
    print(f"frames per second: {r['fps']:.1f}")
    return 1 if r.get("mismatches") else 0
