"""The requantization rule: round half to even, then saturate (docs/arithmetic.md)."""
from fractions import Fraction

import numpy as np
import pytest

from unetaccel.ir.arith import qrange, requantize, shift_round_half_even, signed_bits

SEED = 13


def exact_rhe(y: int, s: int) -> int:
    """Round half to even of y / 2^s with exact rationals (the definition)."""
    v = Fraction(y, 1) / Fraction(2) ** s if s >= 0 else Fraction(y * 2 ** (-s))
    fl = v.numerator // v.denominator
    r = v - fl
    if r > Fraction(1, 2) or (r == Fraction(1, 2) and fl % 2 == 1):
        return fl + 1
    return fl


@pytest.mark.parametrize("s", [1, 2, 3, 7, 12])
def test_exact_ties_go_to_even(s):
    k = np.arange(-20, 21, dtype=np.int64)
    y = k * (1 << s) + (1 << (s - 1))  # every value sits exactly on a .5 tie
    got = shift_round_half_even(y, s)
    want = np.array([exact_rhe(int(v), s) for v in y])
    assert np.array_equal(got, want)
    assert np.all(got % 2 == 0), "ties must round to the even neighbour"
    assert np.array_equal(got, np.round(y / 2.0 ** s).astype(np.int64))  # numpy/torch round is half-even too


def test_random_values_and_shifts_match_the_definition():
    seed = 1234
    print("seed", seed)
    rng = np.random.default_rng(seed)
    y = rng.integers(-(1 << 40), 1 << 40, size=4000)
    s = rng.integers(-6, 30, size=4000)
    got = shift_round_half_even(y, s)
    want = np.array([exact_rhe(int(a), int(b)) for a, b in zip(y, s)])
    assert np.array_equal(got, want)


def test_non_positive_shift_is_an_exact_left_shift():
    y = np.array([-5, -1, 0, 3, 100], dtype=np.int64)
    assert np.array_equal(shift_round_half_even(y, 0), y)
    assert np.array_equal(shift_round_half_even(y, -3), y * 8)


def test_per_channel_shift_and_saturation():
    y = np.array([[[[1000]], [[1000]], [[-1000]]]], dtype=np.int64)  # 1 x 3 x 1 x 1
    shift = np.array([2, 5, 2]).reshape(1, 3, 1, 1)
    q = requantize(y, shift, 0, 255)
    assert q.ravel().tolist() == [250, 31, 0]
    q = requantize(y * 4, shift, -128, 127)
    assert q.ravel().tolist() == [127, 125, -128]


def test_left_shift_saturates_without_overflow():
    """shift < 0 down to the IR's -40: values whose product passes int64 saturate, never wrap;
    values near the bounds are exact (checked against Python's unbounded integers)."""
    seed = 12
    print("seed", seed)
    rng = np.random.default_rng(seed)
    y = np.concatenate([rng.integers(-(1 << 40), 1 << 40, 200), rng.integers(-70, 70, 200),
                        [1 << 30, -(1 << 30), 1 << 62, -(1 << 62), 0, 1, -1]]).astype(np.int64)
    for s in (-1, -2, -7, -40):
        for lo, hi in ((0, 255), (-128, 127)):
            got = requantize(y, s, lo, hi)
            want = [min(max(int(v) << -s, lo), hi) for v in y]
            assert got.tolist() == want, (s, lo, hi)
    per_channel = requantize(np.array([[3, 3], [1 << 30, -(1 << 30)]]), np.array([-2, -40]), -128, 127)
    assert requantize(np.array([1000, 1000]), np.array([-1, 2]), 0, 255).tolist() == [255, 250]  # per lane
    assert per_channel.tolist() == [[12, 127], [127, -128]]


def test_ranges_and_widths():
    assert qrange(5, True, narrow=True) == (-15, 15)
    assert qrange(8, False) == (0, 255)
    assert qrange(8, True) == (-128, 127)
    assert signed_bits(127) == 8 and signed_bits(128) == 9 and signed_bits(0) == 2


def test_reference_float_path_equals_the_definition():
    """The reference's requantization (float32 / float64 under its proven bound) equals
    arith.requantize on ties, random values, per-channel shifts -40..40 and values at the edge of
    each float's exact range."""
    from unetaccel.ir import reference as R
    rng = np.random.default_rng(SEED)
    print("seed", SEED)
    shifts = np.arange(-40, 41)
    c = len(shifts)
    for bound in (1 << 10, (1 << 24) - 1, (1 << 30), (1 << 53) - 1):
        y = rng.integers(-bound, bound + 1, size=(c, 2, 4, 64), dtype=np.int64)
        s = np.maximum(shifts, 1).reshape(c, 1, 1, 1)
        ties = (rng.integers(-(bound >> 20) - 1, (bound >> 20) + 1, size=(c, 2, 4, 8)) * 2 + 1) << (s - 1)
        y[..., :8] = np.clip(ties, -bound, bound)  # exact halves where the shift is positive
        y[..., 8] = bound
        y[..., 9] = -bound
        for lo, hi in ((0, 255), (-128, 127)):
            dt = np.float32 if bound < 1 << 24 else np.float64
            got = R._requant_c(y.astype(dt), shifts, lo, hi, bound)
            want = requantize(y, shifts.reshape(c, 1, 1, 1), lo, hi)
            assert np.array_equal(got.astype(np.int64), want), (bound, lo, hi, int(np.sum(got != want)))
