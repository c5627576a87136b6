"""Pictures of any size through the fixed-size accelerator: model-sized tiles, stitched class maps.

The soil-CT workflow of the original material shrank whole 1000x500 scans to fit a GPU model; a
fixed-size accelerator tiles instead. Along each axis the tiles start every `size - overlap`
pixels, the last one moved back to end at the picture's edge (so no tile hangs over it); a picture
smaller than a tile is padded with zeros at the bottom and right, never stretched, and the padding
is cut off the class map. **Stitching rule**: each output pixel takes the class of the tile in which
it lies farthest from that tile's border (the larger of the smaller distances to the tile's edges,
along each axis; on a tie, the tile that starts first). With overlap 0 every pixel lies in one tile.
Where two overlapping tiles agree, the stitched map therefore shows no seam. NumPy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UnetaccelError


class TilingError(UnetaccelError, ValueError):
    """A tiling that cannot be made (an overlap as large as a tile, an empty picture)."""


def parse_tile(text: str | None) -> int:
    """`--tile overlap=K` -> K (None: 0)."""
    if text is None:
        return 0
    key, _, val = str(text).partition("=")
    if key.strip() != "overlap" or not val.strip().isdigit():
        raise TilingError(f"--tile {text!r}: write overlap=K with K a whole number of pixels, e.g. --tile overlap=8")
    return int(val)


def starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile starts along one axis of `length` pixels (see the module's docstring)."""
    if overlap < 0 or overlap >= tile:
        raise TilingError(f"overlap {overlap}: must be at least 0 and less than the tile ({tile} pixels)")
    if length <= 0:
        raise TilingError("an empty picture")
    if length <= tile:
        return [0]
    step = tile - overlap
    out = list(range(0, length - tile, step))
    return out + [length - tile]


def owner(length: int, tile: int, st: list[int]) -> np.ndarray:
    """For each pixel of an axis, the index into `st` of the tile it is taken from: the one in which
    it lies farthest from the tile's border (the first on a tie)."""
    pos = np.arange(length)[:, None]
    s = np.asarray(st)[None, :]
    inside = (pos >= s) & (pos < s + tile)
    dist = np.where(inside, np.minimum(pos - s, s + tile - 1 - pos), -1)
    return np.argmax(dist, axis=1)  # argmax takes the first of equal maxima


@dataclass
class Tiling:
    height: int
    width: int
    tile: tuple[int, int]
    overlap: int
    ys: list[int]
    xs: list[int]

    @property
    def count(self) -> int:
        return len(self.ys) * len(self.xs)


def plan(height: int, width: int, tile, overlap: int = 0) -> Tiling:
    th, tw = (int(v) for v in tile)
    if overlap >= min(th, tw):
        raise TilingError(f"overlap {overlap}: must be less than the tile ({th}x{tw} pixels)")
    return Tiling(height, width, (th, tw), overlap, starts(height, th, overlap), starts(width, tw, overlap))


def tiles(image: np.ndarray, t: Tiling) -> np.ndarray:
    """image C x H x W (uint8) -> tiles N x C x th x tw, row-major over the grid; a picture smaller
    than a tile padded with zeros at the bottom and right."""
    c, h, w = image.shape
    th, tw = t.tile
    ph, pw = max(h, th), max(w, tw)
    padded = np.zeros((c, ph, pw), dtype=image.dtype)
    padded[:, :h, :w] = image
    return np.stack([padded[:, y:y + th, x:x + tw] for y in t.ys for x in t.xs])


def stitch(maps: np.ndarray, t: Tiling) -> np.ndarray:
    """Class maps of the tiles (N x th x tw, the order of tiles()) -> the picture's map H x W."""
    th, tw = t.tile
    oy, ox = owner(max(t.height, th), th, t.ys), owner(max(t.width, tw), tw, t.xs)
    grid = np.asarray(maps).reshape(len(t.ys), len(t.xs), th, tw)
    yy, xx = np.meshgrid(np.arange(t.height), np.arange(t.width), indexing="ij")
    ty, tx = oy[yy], ox[xx]
    ys, xs = np.asarray(t.ys)[ty], np.asarray(t.xs)[tx]
    return grid[ty, tx, yy - ys, xx - xs]
