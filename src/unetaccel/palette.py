"""The colours of class maps (``unetaccel infer`` and the training plots): one per class, all distinct.

Class 0 (background) is black. The other classes take fully saturated colours from an integer hue
circle of :data:`HUES` steps (every step a different RGB triple, each with one channel at 255, so none
is black), evenly spaced and visited in a stride coprime with their count so that neighbouring class
numbers get far-apart hues. Distinct by construction for up to ``HUES + 1`` classes; pure NumPy.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import UnetaccelError

HUES = 6 * 255  # six ramps of 255 steps between the primaries and secondaries


def hue_rgb(h: int) -> tuple[int, int, int]:
    """The RGB triple of integer hue ``h`` in [0, HUES): red -> yellow -> green -> cyan -> blue -> magenta."""
    seg, t = divmod(int(h) % HUES, 255)
    return [(255, t, 0), (255 - t, 255, 0), (0, 255, t), (0, 255 - t, 255), (t, 0, 255), (255, 0, 255 - t)][seg]


def palette(k: int) -> np.ndarray:
    """``k x 3`` uint8 colours, row c the colour of class c; class 0 black, every row distinct."""
    if not 1 <= k <= HUES + 1:
        raise UnetaccelError(f"palette: {k} classes; 1 to {HUES + 1} can be given distinct colours")
    n = k - 1
    stride = next((s for s in range(max(1, round(n * 0.382)), n + 1) if math.gcd(s, n) == 1), 1)
    out = np.zeros((k, 3), dtype=np.uint8)
    for c in range(1, k):
        out[c] = hue_rgb(((c - 1) * stride % n) * HUES // n)
    return out
