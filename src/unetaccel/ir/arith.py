"""The integer arithmetic of docs/arithmetic.md: the definition every rung implements.

One requantization rule everywhere: y * 2^-s, round half to even, then saturate. `requantize`
here is its plain int64 definition. The other implementations are checked against it: the NumPy
reference computes the same rule in float32/float64 where its bound proves that exact
(`reference._requant_c`; tests/ir/test_arith.py compares them value for value), the C++ kernel
(`requantize` in the HLS project's unet_engine.h; tests/hls/test_kernels.py) and the RTL's
requantize stages (unet_core.sv: the rounding constant's adds, the shift and the saturation over
registered stages, at the network's widths; every RTL test compares the requantized tensors).
"""
from __future__ import annotations

import numpy as np

ROUNDING = "half_even"


def qrange(bits: int, signed: bool, narrow: bool = False) -> tuple[int, int]:
    """Inclusive integer range of a (bits, signed) code; narrow drops the most negative value."""
    if signed:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return (lo + 1 if narrow else lo), hi
    return 0, (1 << bits) - 1


def fits(values, bits: int, signed: bool = True) -> bool:
    """Whether every value lies in the (bits, signed) range (an empty array fits)."""
    a = np.asarray(values)
    lo, hi = qrange(int(bits), signed)
    return a.size == 0 or (int(a.min()) >= lo and int(a.max()) <= hi)


def signed_bits(max_abs: int) -> int:
    """Width of the smallest two's complement integer holding [-max_abs, max_abs]."""
    max_abs = int(max_abs)
    return max(2, max_abs.bit_length() + 1)


def shift_round_half_even(y: np.ndarray, shift) -> np.ndarray:
    """y * 2^-shift rounded half to even, in exact int64 arithmetic.

    shift broadcasts against y (a scalar or, e.g., a (1, C, 1, 1) per-channel array).
    shift <= 0 is an exact left shift. For shift > 0:
    q = y >> s; r = y - (q << s); q += (r > h) | ((r == h) & (q odd)), h = 2^(s-1).
    """
    y = np.asarray(y, dtype=np.int64)
    s = np.broadcast_to(np.asarray(shift, dtype=np.int64), y.shape) if np.ndim(shift) else np.int64(shift)
    pos = np.maximum(s, 0)
    neg = np.maximum(-s, 0)
    q = np.right_shift(y, pos)
    r = y - np.left_shift(q, pos)
    h = np.left_shift(np.int64(1), np.maximum(pos - 1, 0))
    up = (pos > 0) & ((r > h) | ((r == h) & ((q & 1) == 1)))
    q = q + up
    return np.left_shift(q, neg)


def requantize(y: np.ndarray, shift, lo: int, hi: int) -> np.ndarray:
    """round_half_even(y * 2^-shift), clamped to [lo, hi] (lo = 0 is the fused ReLU).

    A left shift (shift < 0) saturates without overflowing int64: y is first clamped to
    [ceil(lo / 2^n) - 1, floor(hi / 2^n) + 1] (n = -shift), outside which y * 2^n saturates
    anyway, so the shifted value stays within max(|lo|, |hi|) + 2^n.
    """
    y = np.asarray(y, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    if np.any(s < 0):
        n = np.maximum(-s, 0)
        clamped = np.clip(y, -np.right_shift(np.int64(-lo), n) - 1, np.right_shift(np.int64(hi), n) + 1)
        y = np.where(s < 0, clamped, y)
    return np.clip(shift_round_half_even(y, shift), lo, hi)
