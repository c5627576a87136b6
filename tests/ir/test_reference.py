"""The NumPy reference against naive integer loops, and its API."""
import numpy as np
import pytest

from unetaccel.ir import randnet, reference as R
from unetaccel.ir.arith import requantize

SEED = 77


def naive_conv(x, w, pad, bias=None):
    n, cin, h, wd = x.shape
    cout, _, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, cout, h, wd), dtype=np.int64)
    for dy in range(k):
        for dx in range(k):
            out += np.einsum("nchw,oc->nohw", xp[:, :, dy:dy + h, dx:dx + wd], w[:, :, dy, dx].astype(np.int64))
    if bias is not None:
        out += bias.reshape(1, -1, 1, 1)
    return out


def naive_convt(x, w):
    n, cin, h, wd = x.shape
    cout = w.shape[1]
    out = np.zeros((n, cout, 2 * h, 2 * wd), dtype=np.int64)
    for i in range(h):
        for j in range(wd):
            for dy in range(2):
                for dx in range(2):
                    out[:, :, 2 * i + dy, 2 * j + dx] = x[:, :, i, j] @ w[:, :, dy, dx].astype(np.int64)
    return out


@pytest.mark.parametrize("shape", [(2, 3, 5, 7, 4, 3), (1, 16, 8, 8, 9, 3), (3, 5, 6, 4, 2, 1)])
def test_conv_matches_naive(shape):
    n, cin, h, w, cout, k = shape
    rng = np.random.default_rng(SEED)
    print("seed", SEED)
    x = rng.integers(0, 256, (n, cin, h, w))
    wt = rng.integers(-15, 16, (cout, cin, k, k))
    b = rng.integers(-5000, 5000, cout)
    assert np.array_equal(R.conv2d(x, wt, (k - 1) // 2, b), naive_conv(x, wt, (k - 1) // 2, b))


def test_conv_wide_values_use_exact_path():
    # products beyond float32's exact range force float64/int64: still exact
    print("seed", SEED)
    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 1 << 20, (1, 64, 4, 4))
    wt = rng.integers(-(1 << 10), 1 << 10, (3, 64, 3, 3))
    assert np.array_equal(R.conv2d(x, wt, 1), naive_conv(x, wt, 1))


def test_convt_and_pool_match_naive():
    print("seed", SEED)
    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 256, (2, 6, 3, 5))
    wt = rng.integers(-15, 16, (6, 4, 2, 2))
    assert np.array_equal(R.conv_transpose2d_k2s2(x, wt), naive_convt(x, wt))
    y = rng.integers(0, 256, (2, 3, 4, 6))
    ref = np.array([[[[y[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max() for j in range(3)] for i in range(2)]
                     for c in range(3)] for n in range(2)])
    assert np.array_equal(R.maxpool2x2(y), ref)


def test_layouts_batches_and_trace():
    print("network seed 5, image seed", SEED)
    ir = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 12), seed=5)
    rng = np.random.default_rng(SEED)
    x = rng.integers(0, 256, (5, 3, 8, 12), dtype=np.uint8)
    a = R.run(ir, x, trace=True)
    b = R.run(ir, x.transpose(0, 2, 3, 1))  # NHWC
    c = R.run(ir, x, batch=2)
    assert np.array_equal(a.logits, b.logits) and np.array_equal(a.classes, c.classes)
    assert set(a.trace) == {ir.input} | {lay.output for lay in ir.layers}
    assert np.array_equal(a.classes, np.argmax(a.logits, axis=1))
    single = R.run(ir, x[0])
    assert np.array_equal(single.logits[0], a.logits[0])


def test_argmax_ties_go_to_lowest_index():
    print("network seed", 6)
    ir = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=6)
    lay = ir.layers[-1]
    logits = np.zeros((1, 3, 8, 8), dtype=np.int64)
    logits[0, 1] = 5
    logits[0, 2] = 5
    assert np.all(R.run_layer(ir, lay, logits) == 1)


def naive_network(ir, x):
    """Every IR tensor by plain int64 loops and arith.requantize (no float, no BLAS): the
    integer definition the reference's fast path must equal."""
    env = {ir.input: x.astype(np.int64)}
    for lay in ir.layers:
        a = lay.attrs
        ins = [env[t] for t in lay.inputs]
        shift = ir.param(lay, "shift").reshape(1, -1, 1, 1) if "shift" in lay.params else None
        if lay.op == "conv2d":
            bias = ir.param(lay, "bias").astype(np.int64) if "bias" in lay.params else None
            y = naive_conv(ins[0], ir.param(lay, "weight"), int(a["padding"]), bias)
            out = requantize(y, shift, int(a["lo"]), int(a["hi"])) if shift is not None else y
        elif lay.op == "batchnorm":
            y = ins[0] * ir.param(lay, "mul").astype(np.int64).reshape(1, -1, 1, 1) \
                + ir.param(lay, "bias").astype(np.int64).reshape(1, -1, 1, 1)
            out = requantize(y, shift, int(a["lo"]), int(a["hi"]))
        elif lay.op == "conv_transpose2d":
            out = requantize(naive_convt(ins[0], ir.param(lay, "weight")), shift, int(a["lo"]), int(a["hi"]))
        elif lay.op == "maxpool2d":
            out = R.maxpool2x2(ins[0])
        elif lay.op == "concat":
            out = np.concatenate(ins, axis=1)
        elif lay.op == "add":
            out = requantize(ins[0] + ins[1], shift, int(a["lo"]), int(a["hi"]))
        elif lay.op == "argmax":
            out = np.argmax(ins[0], axis=1)[:, None]
        else:
            raise AssertionError(lay.op)
        env[lay.output] = out
    return env


@pytest.mark.parametrize("kw", [dict(seed=21), dict(seed=22, saturate=True), dict(seed=23, negative_shifts=True),
                                dict(seed=24, saturate=True, negative_shifts=True), dict(seed=25, residual=True),
                                dict(seed=26, residual=True, saturate=True)])
def test_whole_network_equals_naive_integer_loops(kw):
    """Every tensor of random networks (lively, saturating, and with left shifts down to -40)
    equals the naive integer model."""
    print("network", kw, "image seed", SEED)
    ir = randnet.random_unet(widths=(4, 8, 16), num_classes=5, size=(8, 12), **kw)
    x = np.random.default_rng(SEED).integers(0, 256, (3, 3, 8, 12), dtype=np.uint8)
    got = R.run(ir, x, trace=True).trace
    want = naive_network(ir, x)
    for lay in ir.layers:
        t = lay.output
        want_t = want[t][:, 0] if lay.op == "argmax" else want[t]
        got_t = got[t][:, 0] if lay.op == "argmax" and got[t].ndim == 4 else got[t]
        assert np.array_equal(got_t, want_t), f"{lay.name}: {np.sum(got_t != want_t)} values differ"
    if kw.get("residual"):
        adds = [lay for lay in ir.layers if lay.op == "add"]
        assert len(adds) == 2
        for lay in adds:  # the rounding is exercised: odd sums under a right shift
            s = int(ir.param(lay, "shift")[0])
            total = want[lay.inputs[0]] + want[lay.inputs[1]]
            assert s >= 1 and (total % 2 == 1).any(), f"{lay.name}: shift {s} leaves no rounding to check"
    if kw.get("negative_shifts"):
        bn = next(lay for lay in ir.layers if lay.op == "batchnorm")
        assert (ir.param(bn, "shift") == -40).any() and (got[bn.output] == 255).any()


@pytest.mark.parametrize("k,span", [(21, 128), (3, 1 << 22), (300, 128)])
def test_argmax_on_codes_matches_numpy(k, span):
    """The reference's argmax (one max-reduction of (code, index) keys, or np.argmax when the
    keys would not be exact in float32) equals np.argmax, ties to the lowest class included."""
    seed = SEED + k
    print("seed", seed)
    rng = np.random.default_rng(seed)
    x = rng.integers(-span, span, (k, 4, 5, 6)).astype(np.float32)
    x[:, 0] = x[0, 0]  # a pixel row where every class ties
    got = R._argmax_c(x, span)[0]
    assert np.array_equal(got, np.argmax(x, axis=0))


def test_chunking_does_not_change_any_tensor(monkeypatch):
    """Convolutions run over chunks of images (im2col sized for the cache); one image a chunk
    gives every tensor the same as the default chunks."""
    print("network seed 7, image seed", SEED)
    ir = randnet.random_unet(widths=(4, 8, 16), num_classes=5, size=(8, 12), seed=7)
    x = np.random.default_rng(SEED).integers(0, 256, (5, 3, 8, 12), dtype=np.uint8)
    a = R.run(ir, x, trace=True).trace
    monkeypatch.setattr(R, "_CHUNK_BYTES", 1)
    b = R.run(ir, x, trace=True).trace
    assert a.keys() == b.keys() and all(np.array_equal(a[t], b[t]) for t in a)
