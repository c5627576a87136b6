"""Each loop of the HLS engine (unet_engine.h) on one layer against exact integer arithmetic: conv +
BatchNorm (paired and not, with a concat), the logits conv (and its fused argmax, with ties),
the transposed conv, pooling and the residual add; random shapes (odd sizes), random values, the
accumulator and product widths the IR would record (tight: each extreme case is built with its
own exact widths), shifts over the IR's whole range (-40..40) and saturation, in both type modes,
at non-square lanes (4x8: input groups inside a word; 8x2: output groups inside a word). The
layer-table row comes from the generator (hls_project.engine_row), the weights from its packers.
Plus the requantization function alone, on every width and shift."""
import subprocess

import numpy as np
import pytest

from unetaccel.codegen import hls_project, regmap, rtl_project
from unetaccel.codegen import layout as L
from unetaccel.codegen.render import render
from unetaccel.codegen.writer import write_files
from unetaccel.hls.csim import AP_FLAGS, CXXFLAGS
from unetaccel.ir import reference as R
from unetaccel.ir.arith import signed_bits
from unetaccel.tools import ap_types_include, cxx

SEED = 2024
MUL_BITS, BIAS_BITS = 8, 21


def requant_exact(y, s, lo, hi):
    """round_half_even(y * 2^-s) clamped to [lo, hi], in Python integers (no width at all)."""
    y, s = int(y), int(s)
    if s <= 0:
        v = y << -s
    else:
        q = y >> s  # floor
        r, h = y - (q << s), 1 << (s - 1)
        v = q + (1 if r > h or (r == h and q & 1) else 0)
    return min(max(v, lo), hi)


def requant_array(y, s, lo, hi):
    """requant_exact over a (C, H, W) array with one shift per channel."""
    out = np.empty(y.shape, dtype=np.int64)
    for c in range(y.shape[0]):
        out[c] = np.reshape([requant_exact(v, s[c], lo, hi) for v in y[c].ravel()], y[c].shape)
    return out


def _shifts(r, prod, extremes=True):
    """Per channel: a shift that keeps the outputs lively, or one from the ends of the IR's
    range (-40, -1, 0, 1, 40, random); `prod` is the channel's pre-requantization values."""
    out = []
    for c in range(prod.shape[0]):
        p99 = np.percentile(np.abs(prod[c]), 99) + 1
        lively = int(np.ceil(np.log2(p99 / 200)))
        pick = r.integers(0, 4) if extremes else 0
        out.append(lively if pick == 0 else int(r.choice([-40, -1, 0, 1, 40, r.integers(-40, 41)])))
    return np.array(out, dtype=np.int64)


def _cases():
    r = np.random.default_rng(SEED)
    cases = []
    for _ in range(7):  # conv + BN + ReLU, odd sizes, with and without a second (concat) input
        cases.append(dict(kind="conv_bn", c0=int(r.integers(1, 7)), c1=int(r.integers(0, 5)), cout=int(r.integers(1, 9)),
                          h=int(r.integers(1, 6)), w=int(r.integers(1, 7)), k=int(r.choice([1, 3, 5])), mode="random"))
    # worst-case inputs: every accumulator at the top (or bottom) of its IR width
    cases.append(dict(kind="conv_bn", c0=5, c1=2, cout=4, h=3, w=4, k=3, mode="extreme"))
    # small products and negative shifts: exact left shifts that land inside [0, 255]
    cases.append(dict(kind="conv_bn", c0=2, c1=0, cout=5, h=2, w=3, k=1, mode="small"))
    for _ in range(3):
        cases.append(dict(kind="head", cin=int(r.integers(1, 12)), cout=int(r.integers(2, 9)),
                          h=int(r.integers(1, 5)), w=int(r.integers(1, 6)), mode="random"))
    cases.append(dict(kind="head", cin=7, cout=5, h=2, w=3, mode="extreme"))
    for _ in range(3):
        cases.append(dict(kind="convt", cin=int(r.integers(1, 12)), cout=int(r.integers(1, 8)),
                          h=int(r.integers(1, 4)), w=int(r.integers(1, 5)), mode="random"))
    cases.append(dict(kind="convt", cin=9, cout=4, h=2, w=2, mode="extreme"))
    for _ in range(2):
        cases.append(dict(kind="pool", c=int(r.integers(1, 10)), h=2 * int(r.integers(1, 4)),
                          w=2 * int(r.integers(1, 5))))
    cases.append(dict(kind="head", cin=5, cout=6, h=3, w=7, mode="ties"))  # the fused argmax's ties
    for _ in range(2):
        cases.append(dict(kind="add", c=int(r.integers(1, 12)), h=int(r.integers(1, 4)), w=int(r.integers(1, 6))))
    return cases


CASES = _cases()


def _weights(r, shape, mode):
    if mode == "extreme":  # +-15 with one sign per output channel (axis 0 for conv, 1 for convt)
        return np.full(shape, 15, dtype=np.int64)
    if mode == "small":
        return r.integers(-1, 2, shape)
    return r.integers(-15, 16, shape)


def _data(c, i):
    """Case i's tensors and expected outputs, in C x H x W: {x0, x1, w, m, b, s, y, acc, classes};
    records widths, shifts and values in the case."""
    r = np.random.default_rng(SEED + i)
    mode = c.get("mode")
    d = {}
    if c["kind"] == "conv_bn":
        cin, cout, h, w, k = c["c0"] + c["c1"], c["cout"], c["h"], c["w"], c["k"]
        x = np.full((cin, h, w), 255) if mode == "extreme" else r.integers(0, 4 if mode == "small" else 256, (cin, h, w))
        wt = _weights(r, (cout, cin, k, k), mode)
        if mode == "extreme":
            wt[1::2] *= -1
        acc = R.conv2d(x[None], wt, (k - 1) // 2)[0]
        acc_bits = signed_bits(cin * k * k * 15 * 255)
        m = r.integers(-(1 << (MUL_BITS - 1)), 1 << (MUL_BITS - 1), cout)
        b = r.integers(-(1 << (BIAS_BITS - 1)), 1 << (BIAS_BITS - 1), cout)
        if mode == "extreme":
            m[:] = -(1 << (MUL_BITS - 1))
            b[:] = np.where(np.arange(cout) % 2, 1, -1) * ((1 << (BIAS_BITS - 1)) - 1)
        if mode == "small":
            m, b = r.integers(-2, 3, cout), r.integers(-8, 9, cout)
        prod_bits = signed_bits((1 << (acc_bits - 1)) * int(np.abs(m).max()) + int(np.abs(b).max()))
        prod = acc * m[:, None, None] + b[:, None, None]
        s = np.array([-1, -2, -3, 0, -5])[:cout] if mode == "small" else _shifts(r, prod)
        if mode == "extreme":
            s[:] = [-2, -40, 1, 40][:cout]
        d = dict(x0=x[:c["c0"]], x1=x[c["c0"]:], w=wt, m=m, b=b, s=s, y=requant_array(prod, s, 0, 255), acc=acc)
        c.update(acc_bits=acc_bits, prod_bits=prod_bits, mul_bits=MUL_BITS, bias_bits=BIAS_BITS, shifts=s,
                 out=d["y"], prod=prod)
    elif c["kind"] == "head":
        cin, cout, h, w = c["cin"], c["cout"], c["h"], c["w"]
        x = np.full((cin, h, w), 255) if mode == "extreme" else r.integers(0, 256, (cin, h, w))
        wt = _weights(r, (cout, cin, 1, 1), mode)
        b = r.integers(-20000, 20000, cout)
        if mode == "ties":
            wt, b = r.integers(-1, 2, (cout, cin, 1, 1)), np.zeros(cout, np.int64)
        if mode == "extreme":
            wt[::2] *= -1
            b[:] = np.where(np.arange(cout) % 2, 20000, -20000)
        acc_bits = signed_bits(cin * 15 * 255 + int(np.abs(b).max()))
        acc = R.conv2d(x[None], wt, 0, b)[0]
        s = np.full(cout, 9) if mode == "ties" else _shifts(r, acc)
        if mode == "extreme":
            s[:] = [-1, -40, 0, 2, 40][:cout]
        y = requant_array(acc, s, -128, 127)
        d = dict(x0=x, w=wt, m=np.ones(cout, np.int64), b=b, s=s, y=y, classes=np.argmax(y, axis=0))
        c.update(acc_bits=acc_bits, prod_bits=acc_bits, mul_bits=2, bias_bits=acc_bits, shifts=s, out=y, prod=acc)
    elif c["kind"] == "convt":
        cin, cout, h, w = c["cin"], c["cout"], c["h"], c["w"]
        x = np.full((cin, h, w), 255) if mode == "extreme" else r.integers(0, 256, (cin, h, w))
        wt = _weights(r, (cin, cout, 2, 2), mode)
        if mode == "extreme":
            wt[:, ::2] *= -1
        acc_bits = signed_bits(cin * 15 * 255)
        acc = R.conv_transpose2d_k2s2(x[None], wt)[0]
        s = _shifts(r, acc)
        if mode == "extreme":
            s[:] = [-3, -3, -40, 40][:cout]
        d = dict(x0=x, w=wt, m=np.ones(cout, np.int64), b=np.zeros(cout, np.int64), s=s,
                 y=requant_array(acc, s, 0, 255))
        c.update(acc_bits=acc_bits, prod_bits=acc_bits, mul_bits=2, bias_bits=2, shifts=s, out=d["y"], prod=acc)
    elif c["kind"] == "add":
        x = r.integers(0, 256, (2, c["c"], c["h"], c["w"]))
        s = np.array([int(r.choice([-40, -1, 0, 1, 2, 40])) for _ in range(c["c"])])
        prod = x[0] + x[1]
        d = dict(x0=x[0], x1=x[1], s=s, y=requant_array(prod, s, 0, 255))
        c.update(acc_bits=10, prod_bits=10, mul_bits=2, bias_bits=2, shifts=s, out=d["y"], prod=prod)
    else:  # pool
        x = r.integers(0, 256, (c["c"], c["h"], c["w"]))
        d = dict(x0=x, y=R.maxpool2x2(x[None])[0])
        c.update(acc_bits=10, prod_bits=10, mul_bits=2, bias_bits=2)
    return d


DATA = [_data(c, i) for i, c in enumerate(CASES)]
OPS = regmap.OPCODES
OP_OF = {"conv_bn": OPS["conv_bn"], "head": OPS["conv_bias"], "convt": OPS["conv_transpose"], "add": OPS["add"],
         "pool": OPS["maxpool"]}


def _pack_case(c, d, lanes):
    """The engine's inputs of one case at `lanes`: the activation memory (x0 at word 0, x1 after it,
    the output after that), the layer-table row, the weight ROM and the parameter words."""
    pin, pout = lanes
    A = max(pin, pout)
    x0, x1 = d["x0"], d.get("x1")
    h, w = x0.shape[1:]
    c0, c1 = x0.shape[0], (x1.shape[0] if x1 is not None and c["kind"] == "conv_bn" else 0)
    cout = {"pool": c0, "add": c0}.get(c["kind"], len(d.get("m", [])))
    words0 = L.pack_act(x0, A)
    words1 = L.pack_act(x1, A) if x1 is not None and x1.shape[0] else np.zeros((0, A), np.int64)
    src1 = len(words0)
    dst = src1 + len(words1)
    out_words = {"convt": L.groups(cout, A) * 4 * h * w, "pool": L.groups(cout, A) * h * w // 4}.get(
        c["kind"], L.groups(cout, A) * h * w)
    mem = np.concatenate([words0, words1, np.zeros((max(out_words, -(-h * w // A)), A), np.int64)])
    r = dict(op=OP_OF[c["kind"]], cin0=c0, cin1=c0 if c["kind"] == "add" else c1, cout=cout, h=h, w=w,
             k={"conv_bn": c.get("k", 1), "convt": 2, "pool": 2}.get(c["kind"], 1), pad=(c.get("k", 1) - 1) // 2,
             src0=0, src1=src1, dst=dst, wbase=0, pbase=0, lo=-128 if c["kind"] == "head" else 0,
             hi=127 if c["kind"] == "head" else 255, fuse=int(c["kind"] == "head"))
    r["pair"] = int(c["kind"] == "conv_bn" and rtl_project.pair_layer(r, lanes))
    wq = np.zeros((1, pout, pin), np.int64)
    if c["kind"] in ("conv_bn", "head"):
        fn = rtl_project.pair_words if r["pair"] else rtl_project._conv_words
        wq = fn(d["w"], c0, c1, pin, pout)
    elif c["kind"] == "convt":
        wq = L.pack_convt(d["w"], pin, pout).reshape(-1, pout, pin)
    params = [L.pack_channels(d.get(k, np.zeros(cout, np.int64)), cout, pout) for k in ("m", "b", "s")]
    if r["pair"]:
        for arr in params:
            arr[:, pout // 2:] = arr[:, :pout // 2]
    row = hls_project.engine_row(r, lanes, (r["k"], r["pad"], c0 + c1, cout))
    return dict(mem=mem, row=[int(row[f]) for f in hls_project.LTAB_FIELDS], wrom=hls_project.weight_rom(wq, 5),
                params=params, dst=dst, cout=cout, pair=r["pair"], hw_out=row["hw_out"])


#: lanes of the case groups: the random cases at 4x8 (PIN < A: input groups in part of a word;
#: narrow convs paired), the extreme ones each alone (their widths exact, tight) at 8x2 (POUT < A)
GROUPS = [("random", (4, 8), [i for i, c in enumerate(CASES) if c.get("mode") != "extreme"])] + \
    [(f"extreme{i}", (8, 2), [i]) for i, c in enumerate(CASES) if c.get("mode") == "extreme"]


def _render_library(d, lanes, cases, extra=None):
    """unet_types.h, unet_config.h, unet_engine.h for these lanes, the datapath as wide as the
    widest of `cases` (exactly theirs for one case)."""
    pin, pout = lanes
    A = max(pin, pout)
    dp = {k: max([c[k] for c in cases] + [2]) for k in ("acc_bits", "mul_bits", "bias_bits", "prod_bits")}
    wbits, ww = hls_project.weight_words(pin * pout * 5)
    ctx = {"banner": "kernel test", "in_c": 1, "in_h": 1, "in_w": 1, "num_classes": 1, "rows": [None], "run_layers": 1,
           "head": 0, "pin": pin, "pout": pout, "a": A, "log2a": A.bit_length() - 1, "weight_bits": 5,
           "wword_bits": wbits, "ww": ww, "in_base": 0, "acc_trace_size": 1,
           "out_trace_size": 1, "opcodes": regmap.OPCODES, "dp": dp, "max_iters": 1 << 20, **(extra or {})}
    ctx.setdefault("act_words", 1)
    ctx.setdefault("w_words", 1)
    ctx.setdefault("p_words", 1)
    write_files(d, {name: render(f"hls_project/{name}.j2", ctx) for name in ("unet_types.h", "unet_config.h",
                                                                              "unet_engine.h")})


HARNESS = r"""#include <cstdio>
#include <vector>
#include "unet_engine.h"
using namespace unet;
static std::vector<long long> rd(const std::string& p) {
    FILE* f = std::fopen(p.c_str(), "rb");
    std::vector<long long> v;
    long long x;
    while (f && std::fread(&x, 8, 1, f) == 1) v.push_back(x);
    if (f) std::fclose(f);
    return v;
}
static void wr(const std::string& p, const std::vector<long long>& v) {
    FILE* f = std::fopen(p.c_str(), "wb");
    std::fwrite(v.data(), 8, v.size(), f);
    std::fclose(f);
}
static act_t m0[ACT_BANK0][A], m1[ACT_BANK1][A];
static wword_t wrom[W_WORDS][WW];
static pmul_rom_t pmul[P_WORDS][POUT];
static pbias_rom_t pbias[P_WORDS][POUT];
static pshift_rom_t pshift[P_WORDS][POUT];
int main(int argc, char** argv) {
    for (int a = 1; a < argc; a++) {  // case prefixes; each: mem, row, wrom, m, b, s, fz
        const std::string c = argv[a];
        const std::vector<long long> mem = rd(c + "_mem.bin"), row = rd(c + "_row.bin"), w = rd(c + "_wrom.bin"),
                                     pm = rd(c + "_m.bin"), pb = rd(c + "_b.bin"), ps = rd(c + "_s.bin"),
                                     fz = rd(c + "_fz.bin");
        for (size_t i = 0; i < mem.size(); i++) {
            const int wa = int(i / A), l = int(i % A);
            if (wa & 1) m1[wa >> 1][l] = act_t(mem[i]);
            else m0[wa >> 1][l] = act_t(mem[i]);
        }
        for (size_t i = 0; i < w.size(); i++) wrom[i / WW][i % WW] = wword_t(w[i]);
        for (size_t i = 0; i < pm.size(); i++) {
            pmul[i / POUT][i % POUT] = pmul_rom_t(pm[i]);
            pbias[i / POUT][i % POUT] = pbias_rom_t(pb[i]);
            pshift[i / POUT][i % POUT] = pshift_rom_t(ps[i]);
        }
        int f[64];
        for (size_t i = 0; i < row.size(); i++) f[i] = int(row[i]);
        layer_t L;
        {FIELD_ASSIGN}
        std::vector<long long> acc(ACC_N, 0), out(ACC_N, 0);
        if (L.op == OP_MAXPOOL) pool_layer(L, m0, m1);
        else if (L.op == OP_ADD) add_layer(L, m0, m1, pshift);
        else mac_layer(L, m0, m1, wrom, pmul, pbias, pshift, fz[0] != 0, acc.data(), out.data());
        std::vector<long long> res(mem.size());
        for (size_t i = 0; i < mem.size(); i++) res[i] = (long long)peek(m0, m1, int(i / A), int(i % A));
        wr(c + "_out.bin", res);
        wr(c + "_acc.bin", acc);
        wr(c + "_trace.bin", out);
    }
    return 0;
}
"""


def _build(d, lanes, idx, mode):
    """Write the group's case files and compile the harness; returns the packed cases."""
    pk = {i: _pack_case(CASES[i], DATA[i], lanes) for i in idx}
    acc_n = max(max(len(DATA[i]["y"].ravel()), 1) for i in idx)
    _render_library(d, lanes, [CASES[i] for i in idx],
                    {"act_words": max(len(p["mem"]) for p in pk.values()),
                     "w_words": max(len(p["wrom"]) for p in pk.values()),
                     "p_words": max(len(p["params"][0]) for p in pk.values())})
    for i, p in pk.items():
        for fz in ((0, 1) if CASES[i]["kind"] == "head" else (0,)):
            pre = f"c{i}_{fz}"
            files = {"mem": p["mem"], "row": p["row"], "wrom": p["wrom"], "m": p["params"][0], "b": p["params"][1],
                     "s": p["params"][2], "fz": [fz]}
            for k, v in files.items():
                np.ascontiguousarray(v, dtype="<i8").ravel().tofile(d / f"{pre}_{k}.bin")
    assign = " ".join(f"L.{f} = f[{k}];" for k, f in enumerate(hls_project.LTAB_FIELDS))
    src = HARNESS.replace("{FIELD_ASSIGN}", assign).replace("ACC_N", str(acc_n)).replace(
        "#include <vector>", "#include <string>\n#include <vector>")
    (d / "prog.cpp").write_text(src)
    flags = list(CXXFLAGS) + ["-DUNET_TRACE", "-I."]
    if mode == "ap":
        flags += AP_FLAGS + ["-isystem", str(ap_types_include())]
    r = subprocess.run([cxx(), *flags, "prog.cpp", "-o", "prog"], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    args = [f"c{i}_{fz}" for i in idx for fz in ((0, 1) if CASES[i]["kind"] == "head" else (0,))]
    r = subprocess.run(["./prog", *args], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout, r.stdout + r.stderr
    return pk


@pytest.fixture(scope="module", params=["native", "ap"])
def harness(request, tmp_path_factory):
    print("seed", SEED)
    built = {}
    for name, lanes, idx in GROUPS:
        d = tmp_path_factory.mktemp(f"engine_{name}_{request.param}")
        pk = _build(d, lanes, idx, request.param)
        for i in idx:
            built[i] = (d, lanes, pk[i])
    return built


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c['kind']}{i}" for i, c in enumerate(CASES)])
def test_kernel_matches_exact_arithmetic(harness, i):
    d, lanes, p = harness[i]
    c, want = CASES[i], DATA[i]
    print("seed", SEED, "lanes", lanes, {k: v for k, v in c.items() if not isinstance(v, np.ndarray)})
    A = max(lanes)
    got = np.fromfile(d / f"c{i}_0_out.bin", dtype="<i8").reshape(-1, A)
    y = want["y"]
    ch, hh, ww = y.shape
    out = L.unpack_act(got[p["dst"]:p["dst"] + L.groups(ch, A) * hh * ww], ch, hh, ww, A)
    if c["kind"] == "head":
        out = np.where(out > 127, out - 256, out)  # the logits' bytes
    assert np.array_equal(out, y), f"first diff at {np.argwhere(out != y)[:3].tolist()}"
    assert np.array_equal(got[:p["dst"]], p["mem"][:p["dst"]]), "the inputs were overwritten"
    if "acc" in want:
        acc = np.fromfile(d / f"c{i}_0_acc.bin", dtype="<i8")[:want["acc"].size]
        assert np.array_equal(acc, want["acc"].ravel())
    if c["kind"] == "head":  # the fused argmax: the class bytes at the output's base, and the logits traced
        got1 = np.fromfile(d / f"c{i}_1_out.bin", dtype="<i8").reshape(-1, A)
        hw = hh * ww
        classes = got1[p["dst"]:].ravel()[:hw]
        assert np.array_equal(classes, want["classes"].ravel())
        trace = np.fromfile(d / f"c{i}_1_trace.bin", dtype="<i8")[:y.size]
        assert np.array_equal(trace, y.ravel())


def test_cases_reach_every_path():
    """The cases are not vacuous: tight widths whose accumulators reach their worst case, negative
    shifts that saturate (y * 2^n passes the accumulator's width) and ones that land inside the
    range (exact left shifts), shifts at both ends of -40..40, both clamps, paired and unpaired
    convs, argmax ties."""
    req = [c for c in CASES if "shifts" in c]
    assert all(c["acc_bits"] < 32 for c in req) and any(c.get("prod_bits", 48) < 48 for c in req)
    # an accumulator at its worst case (the 'extreme' cases) and a product using its width
    assert any(np.abs(c["prod"]).max() >= 1 << (c["acc_bits"] - 2) for c in req if c["kind"] == "convt")
    neg_sat = neg_exact = False
    shifts = set()
    for c in req:
        lo, hi = (-128, 127) if c["kind"] == "head" else (0, 255)
        for ch, s in enumerate(c["shifts"]):
            shifts.add(int(s))
            if s < 0:
                v, pre = c["out"][ch], c["prod"][ch]
                width = c.get("prod_bits", c["acc_bits"])
                past = np.abs(pre) >= (1 << max(width - 1 + int(s), 0))
                neg_sat |= bool((past & (pre != 0) & (v == hi)).any())
                neg_exact |= bool(((v > lo) & (v < hi) & (pre != 0)).any())
    assert min(shifts) == -40 and max(shifts) == 40 and {-1, 0, 1} <= shifts
    assert neg_sat and neg_exact
    allv = np.concatenate([c["out"].ravel() for c in req if c["kind"] != "head"])
    assert (allv == 0).any() and (allv == 255).any() and ((allv > 0) & (allv < 255)).any()
    pairs = [rtl_project.pair_layer(dict(op=OP_OF["conv_bn"], cin0=c["c0"], cin1=c["c1"], cout=c["cout"]), lanes)
             for name, lanes, idx in GROUPS for c in (CASES[i] for i in idx) if c["kind"] == "conv_bn"]
    assert any(pairs) and not all(pairs)
    ties = [int((np.sort(DATA[i]["y"], axis=0)[-1] == np.sort(DATA[i]["y"], axis=0)[-2]).sum())
            for i, c in enumerate(CASES) if c["kind"] == "head"]
    assert sum(ties) > 0, ties


# ---------------------------------------------------------------------------
# requantize() alone: every width the IR can record, every shift it allows

WIDTHS = (12, 13, 20, 32, 48)


def _requant_table():
    r = np.random.default_rng(SEED + 99)
    rows = [(12, 1000, -2, 0, 255), (12, -1000, -2, 0, 255), (12, 1000, -2, -128, 127)]  # the audit's example
    for wdt in WIDTHS:
        top = (1 << (wdt - 1)) - 1
        ys = [0, 1, -1, 2, -2, 3, -3, top, -top - 1, 1000 % top, -(1000 % top)] + \
            [int(v) for v in r.integers(-top - 1, top + 1, 40)] + [int(v) for v in r.integers(-300, 300, 20)]
        for y in ys:
            for s in [-40, -33, -17, -8, -2, -1, 0, 1, 2, 7, 8, 9, 15, 31, 40] + [int(r.integers(-40, 41))]:
                for lo, hi in ((0, 255), (-128, 127)):
                    rows.append((wdt, y, s, lo, hi))
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("mode", ["native", "ap"])
def test_requantize_every_width_and_shift(mode, tmp_path):
    table = _requant_table()
    table.astype("<i8").tofile(tmp_path / "table.bin")
    _render_library(tmp_path, (8, 8), [])
    cases = "\n".join(f"      case {w}: v = requantize(sint<{w}>::type(t[5 * i + 1]), int(t[5 * i + 2]), t[5 * i + 3], "
                      f"t[5 * i + 4]); break;" for w in WIDTHS)
    prog = f"""#include <cstdio>
#include <vector>
#include "unet_engine.h"
using namespace unet;
int main() {{
  const size_t n = {len(table)};
  std::vector<long long> t(5 * n), out(n);
  FILE* f = std::fopen("table.bin", "rb");
  if (!f || std::fread(t.data(), 8, 5 * n, f) != 5 * n) return 3;
  std::fclose(f);
  for (size_t i = 0; i < n; i++) {{
    long long v = 0;
    switch (t[5 * i]) {{
{cases}
      default: return 4;
    }}
    out[i] = v;
  }}
  f = std::fopen("out.bin", "wb");
  std::fwrite(out.data(), 8, n, f);
  std::fclose(f);
  return 0;
}}
"""
    (tmp_path / "prog.cpp").write_text(prog)
    flags = list(CXXFLAGS) + ["-I."] + (AP_FLAGS + ["-isystem", str(ap_types_include())] if mode == "ap" else [])
    r = subprocess.run([cxx(), *flags, "prog.cpp", "-o", "prog"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run(["./prog"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    got = np.fromfile(tmp_path / "out.bin", dtype="<i8")
    want = np.array([requant_exact(y, s, lo, hi) for _, y, s, lo, hi in table.tolist()])
    bad = np.flatnonzero(got != want)
    assert not bad.size, [(table[i].tolist(), int(got[i]), int(want[i])) for i in bad[:5]]
    assert got[0] == 255 and got[1] == 0 and got[2] == 127  # 1000 << 2 saturates, never wraps
