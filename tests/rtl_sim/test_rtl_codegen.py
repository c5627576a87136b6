"""The RTL generator's tables (no simulator): word packing, layout, load-path words, errors."""
from pathlib import Path

import numpy as np
import pytest

from unetaccel.codegen import regmap
from unetaccel.codegen.rtl_project import (RtlConfigError, _conv_words, _convt_words, check_lanes, layout,
                                           load_words, tables)
from unetaccel.ir import synth

SEED = 5


def test_conv_words_follow_the_concat_split():
    """Word [go][gi][ky][kx], lane (j, i): weight of output go*L+j and the input channel that
    input lane i of group gi holds: source groups first, then skip groups, each zero-padded."""
    rng = np.random.default_rng(SEED)
    print("seed", SEED)
    L, cin0, cin1, cout, k = 4, 3, 6, 5, 3
    w = rng.integers(-15, 16, (cout, cin0 + cin1, k, k))
    words = _conv_words(w, cin0, cin1, L)
    g0, g1, go = 1, 2, 2
    assert words.shape == (go * (g0 + g1) * k * k, L, L)
    for o in range(go):
        for g in range(g0 + g1):
            for ky in range(k):
                for kx in range(k):
                    word = words[((o * (g0 + g1) + g) * k + ky) * k + kx]
                    for j in range(L):
                        for i in range(L):
                            co = o * L + j
                            c = g * L + i if g < g0 else cin0 + (g - g0) * L + i
                            valid = co < cout and (c < cin0 if g < g0 else (g - g0) * L + i < cin1)
                            assert word[j, i] == (w[co, c, ky, kx] if valid else 0)


def test_convt_words_are_phase_major():
    rng = np.random.default_rng(SEED + 1)
    L, cin, cout = 4, 6, 3
    w = rng.integers(-15, 16, (cin, cout, 2, 2))
    words = _convt_words(w, L)
    assert words.shape == (1 * 4 * 2, L, L)
    for ph in range(4):
        for g in range(2):
            word = words[ph * 2 + g]
            for j in range(L):
                for i in range(L):
                    c = g * L + i
                    want = w[c, j, ph >> 1, ph & 1] if c < cin and j < cout else 0
                    assert word[j, i] == want


def test_layout_words_and_load_path_sizes():
    net = synth.random_unet(widths=(3, 5, 6), num_classes=7, size=(8, 12), seed=SEED)
    for L in (4, 8):
        steps, base, depth = layout(net, L)
        # every tensor's words fit inside the activation memory
        for t, b in base.items():
            c, h, w = net.tensors[t].shape
            assert b + -(-c // L) * h * w <= depth
        _, _, _, rows, weights, mul, bias, shift = tables(net, L)
        words = load_words(net, (L, L))
        assert len(words["weights"]) == len(weights) * L * L // 4
        assert len(words["bn_mul"]) == len(words["bn_bias"]) == len(words["shift"]) == mul.size
        # weights are little-endian bytes: lane (0, 0..3) of word 0 is the first 32-bit word
        w0 = weights[0].ravel()[:4] & 0xFF
        assert int(words["weights"][0]) == int(w0[0] | w0[1] << 8 | w0[2] << 16 | w0[3] << 24)
        assert [r["op"] for r in rows][-1] == regmap.OPCODES["argmax"]


@pytest.mark.parametrize("lanes", [(4, 16), (3, 3), (1, 1), (64, 64)])
def test_unsupported_lanes_are_refused_by_name(lanes):
    with pytest.raises(RtlConfigError, match=f"--lanes {lanes[0]}x{lanes[1]}"):
        check_lanes(lanes)


def test_readme_register_table_is_the_description():
    """The README documents the register map by the table the single description renders."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert regmap.markdown() in readme, "README's register table differs from regmap.markdown(); paste it again"
