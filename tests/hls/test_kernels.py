"""Each HLS kernel on its own against exact integer arithmetic: random shapes (odd sizes), random
values, the accumulator and product widths the IR would record (tight, not a roomy 32/48 bits),
shifts over the IR's whole range (-40..40) and saturation, in both type modes and in the
generator's own lane layout (non-square lanes, 4 x 3). Plus the requantization function alone,
on every width and shift."""
import subprocess

import numpy as np
import pytest

from unetaccel.codegen import layout as L
from unetaccel.codegen.render import render
from unetaccel.codegen.writer import write_files
from unetaccel.hls.csim import AP_FLAGS, CXXFLAGS
from unetaccel.ir import reference as R
from unetaccel.ir.arith import signed_bits
from unetaccel.tools import ap_types_include, cxx

SEED = 2024
PIN, POUT = 4, 3
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
    cases.append(dict(kind="argmax", k=5, h=3, w=7))
    return cases


CASES = _cases()


def _weights(r, shape, mode):
    if mode == "extreme":  # +-15 with one sign per output channel (axis 0 for conv, 1 for convt)
        return np.full(shape, 15, dtype=np.int64)
    if mode == "small":
        return r.integers(-1, 2, shape)
    return r.integers(-15, 16, shape)


def _data(c, i):
    """Case i's inputs (int64 arrays in the kernels' layouts), its config step and the expected
    outputs (in the kernels' layouts); records widths, shifts and values in the case."""
    r = np.random.default_rng(SEED + i)
    mode = c.get("mode")
    files, want, step = {}, {}, None
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
        files = {"x0": L.pack_act(x[:c["c0"]], PIN),
                 "x1": L.pack_act(x[c["c0"]:], PIN) if c["c1"] else np.zeros((1, PIN), np.int64),
                 "w": L.pack_conv(wt, c["c0"], PIN, POUT), "m": L.pack_channels(m, cout, POUT),
                 "b": L.pack_channels(b, cout, POUT), "s": L.pack_channels(s, cout, POUT)}
        y = requant_array(prod, s, 0, 255)
        want = {"y": L.pack_act(y, PIN), "acc": acc}
        step = L.Step("conv_bn_relu", f"case{i}", "", f"cfg{i}",
                      [("CIN0", c["c0"]), ("CIN1", c["c1"]), ("COUT", cout), ("H", h), ("W", w), ("K", k),
                       ("PAD", (k - 1) // 2), ("LO", 0), ("HI", 255)], acc_bits=acc_bits, prod_bits=prod_bits)
        step.types = [("w", 5, ""), ("mul", MUL_BITS, ""), ("bias", BIAS_BITS, ""), ("acc", acc_bits, ""),
                      ("prod", prod_bits, "")]
        c.update(acc_bits=acc_bits, prod_bits=prod_bits, shifts=s, out=y, prod=prod)
    elif c["kind"] == "head":
        cin, cout, h, w = c["cin"], c["cout"], c["h"], c["w"]
        x = np.full((cin, h, w), 255) if mode == "extreme" else r.integers(0, 256, (cin, h, w))
        wt = _weights(r, (cout, cin, 1, 1), mode)
        b = r.integers(-20000, 20000, cout)
        if mode == "extreme":
            wt[::2] *= -1
            b[:] = np.where(np.arange(cout) % 2, 20000, -20000)
        acc_bits = signed_bits(cin * 15 * 255 + int(np.abs(b).max()))
        acc = R.conv2d(x[None], wt, 0, b)[0]
        s = _shifts(r, acc)
        if mode == "extreme":
            s[:] = [-1, -40, 0, 2, 40][:cout]
        files = {"x0": L.pack_act(x, PIN), "w": L.pack_conv(wt, cin, PIN, POUT), "b": L.pack_channels(b, cout, POUT),
                 "s": L.pack_channels(s, cout, POUT)}
        y = requant_array(acc, s, -128, 127)
        want = {"y": y.reshape(cout, h * w).T}  # logits [H * W][K]
        step = L.Step("conv1x1_bias", f"case{i}", "", f"cfg{i}",
                      [("CIN", cin), ("COUT", cout), ("H", h), ("W", w), ("LO", -128), ("HI", 127)], acc_bits=acc_bits)
        step.types = [("w", 5, ""), ("bias", acc_bits, ""), ("acc", acc_bits, "")]
        c.update(acc_bits=acc_bits, shifts=s, out=y, prod=acc)
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
        files = {"x0": L.pack_act(x, PIN), "w": L.pack_convt(wt, PIN, POUT), "s": L.pack_channels(s, cout, POUT)}
        y = requant_array(acc, s, 0, 255)
        want = {"y": L.pack_act(y, PIN)}
        step = L.Step("conv_transpose2x2", f"case{i}", "", f"cfg{i}",
                      [("CIN", cin), ("COUT", cout), ("H", h), ("W", w), ("LO", 0), ("HI", 255)], acc_bits=acc_bits)
        step.types = [("w", 5, ""), ("acc", acc_bits, "")]
        c.update(acc_bits=acc_bits, shifts=s, out=y, prod=acc)
    elif c["kind"] == "pool":
        x = r.integers(0, 256, (c["c"], c["h"], c["w"]))
        files = {"x0": L.pack_act(x, PIN)}
        want = {"y": L.pack_act(R.maxpool2x2(x[None])[0], PIN)}
        step = L.Step("maxpool2x2", f"case{i}", "", f"cfg{i}", [("C", c["c"]), ("H", c["h"]), ("W", c["w"])])
    else:
        x = r.integers(-3, 3, (c["k"], c["h"], c["w"]))  # many ties
        files = {"x0": x.reshape(c["k"], -1).T}
        want = {"y": np.argmax(x, axis=0).ravel()}
        step = L.Step("argmax", f"case{i}", "", f"cfg{i}", [("K", c["k"]), ("H", c["h"]), ("W", c["w"])])
    for k, v in files.items():
        c[f"n_{k}"] = int(np.asarray(v).size)
    return step, files, want


DATA = [_data(c, i) for i, c in enumerate(CASES)]


def _harness(cases) -> str:
    """The test program: reads each case's int64 files into the kernel's arrays, calls it, writes
    every output word (int64)."""
    lines = ['#include <cstdio>', '#include <vector>', '#include "unet_config.h"', '#include "unet_kernels.h"',
             "using namespace unet;",
             "static std::vector<long long> rd(const char* p, size_t n) { std::vector<long long> v(n);"
             " FILE* f = std::fopen(p, \"rb\"); if (!f || std::fread(v.data(), 8, n, f) != n) std::printf(\"read %s\\n\", p);"
             " if (f) std::fclose(f); return v; }",
             "template <class T> static void wr(const char* p, const T* d, size_t n) { std::vector<long long> v(n);"
             " for (size_t i = 0; i < n; i++) v[i] = (long long)d[i]; FILE* f = std::fopen(p, \"wb\");"
             " std::fwrite(v.data(), 8, n, f); std::fclose(f); }",
             "template <class T, int L> struct Arr { std::vector<T> v; explicit Arr(size_t words) : v(words * L, T(0)) {}"
             " Arr(const char* p, size_t n) : v(n) { auto r = rd(p, n); for (size_t i = 0; i < n; i++) v[i] = T(r[i]); }"
             " T (*a())[L] { return reinterpret_cast<T (*)[L]>(v.data()); } };"]
    body = []
    for i, c in enumerate(cases):
        cfg = f"cfg{i}"

        def f(k, i=i, c=c):
            return f'"c{i}_{k}.bin", {c["n_" + k]}'
        if c["kind"] == "conv_bn":
            hw = c["h"] * c["w"]
            ny = L.groups(c["cout"], PIN) * hw
            body.append(f"  {{ Arr<act_t, PIN> x0({f('x0')}), x1({f('x1')}), y({ny});"
                        f" Arr<{cfg}::w_rom_t, PIN * POUT> w({f('w')}); Arr<{cfg}::mul_rom_t, POUT> m({f('m')});"
                        f" Arr<{cfg}::bias_rom_t, POUT> b({f('b')}); Arr<shift_rom_t, POUT> s({f('s')});"
                        f" std::vector<long long> acc({c['cout'] * hw});"
                        f" conv_bn_relu<{cfg}>(x0.a(), x1.a(), y.a(), w.a(), m.a(), b.a(), s.a() UNET_ACC_TRACE_ARG(acc.data()));"
                        f' wr("c{i}_y.out", y.v.data(), y.v.size()); wr("c{i}_acc.out", acc.data(), acc.size()); }}')
        elif c["kind"] == "head":
            hw = c["h"] * c["w"]
            body.append(f"  {{ Arr<act_t, PIN> x({f('x0')}); Arr<logit_t, {cfg}::COUT> y({hw});"
                        f" Arr<{cfg}::w_rom_t, PIN * POUT> w({f('w')}); Arr<{cfg}::bias_rom_t, POUT> b({f('b')});"
                        f" Arr<shift_rom_t, POUT> s({f('s')}); conv1x1_bias<{cfg}>(x.a(), y.a(), w.a(), b.a(), s.a());"
                        f' wr("c{i}_y.out", y.v.data(), y.v.size()); }}')
        elif c["kind"] == "convt":
            ny = L.groups(c["cout"], PIN) * 4 * c["h"] * c["w"]
            body.append(f"  {{ Arr<act_t, PIN> x({f('x0')}), y({ny}); Arr<{cfg}::w_rom_t, PIN * POUT> w({f('w')});"
                        f" Arr<shift_rom_t, POUT> s({f('s')}); conv_transpose2x2<{cfg}>(x.a(), y.a(), w.a(), s.a());"
                        f' wr("c{i}_y.out", y.v.data(), y.v.size()); }}')
        elif c["kind"] == "pool":
            ny = L.groups(c["c"], PIN) * c["h"] * c["w"] // 4
            body.append(f"  {{ Arr<act_t, PIN> x({f('x0')}), y({ny}); maxpool2x2<{cfg}>(x.a(), y.a());"
                        f' wr("c{i}_y.out", y.v.data(), y.v.size()); }}')
        else:
            n = c["h"] * c["w"]
            body.append(f"  {{ Arr<logit_t, {c['k']}> x({f('x0')}); std::vector<class_t> y({n});"
                        f" argmax<{cfg}>(x.a(), y.data()); wr(\"c{i}_y.out\", y.data(), y.size()); }}")
    return "\n".join(lines) + "\nint main() {\n" + "\n".join(body) + "\n  return 0;\n}\n"


def _compile(d, source: str, mode: str):
    (d / "prog.cpp").write_text(source)
    flags = list(CXXFLAGS) + ["-DUNET_TRACE", "-I."]
    if mode == "ap":
        flags += AP_FLAGS + ["-isystem", str(ap_types_include())]
    r = subprocess.run([cxx(), *flags, "prog.cpp", "-o", "prog"], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run(["./prog"], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout, r.stdout + r.stderr


def _render_library(d, steps):
    ctx = {"banner": "kernel test", "pin": PIN, "pout": POUT, "in_c": 1, "in_h": 1, "in_w": 1, "num_classes": 1,
           "steps": steps, "slots": [], "acc_trace_size": 1}
    write_files(d, {name: render(f"hls_project/{name}.j2", ctx) for name in ("unet_types.h", "unet_kernels.h",
                                                                              "unet_config.h")})


@pytest.fixture(scope="module", params=["native", "ap"])
def harness(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"kernels_{request.param}")
    print("seed", SEED)
    for i, (_, files, _) in enumerate(DATA):
        for k, v in files.items():
            np.ascontiguousarray(v, dtype="<i8").tofile(d / f"c{i}_{k}.bin")
    _render_library(d, [step for step, _, _ in DATA])
    _compile(d, _harness(CASES), request.param)
    return d, [want for _, _, want in DATA]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c['kind']}{i}" for i, c in enumerate(CASES)])
def test_kernel_matches_exact_arithmetic(harness, i):
    d, wants = harness
    c, want = CASES[i], wants[i]
    print("seed", SEED, {k: v for k, v in c.items() if not isinstance(v, np.ndarray)})
    got = np.fromfile(d / f"c{i}_y.out", dtype="<i8")
    y = np.asarray(want["y"]).ravel()
    if c["kind"] in ("conv_bn", "convt", "pool"):  # padding lanes hold anything: compare the channels
        ch = {"conv_bn": c.get("cout"), "convt": c.get("cout"), "pool": c.get("c")}[c["kind"]]
        hh, ww = (2 * c["h"], 2 * c["w"]) if c["kind"] == "convt" else (
            (c["h"] // 2, c["w"] // 2) if c["kind"] == "pool" else (c["h"], c["w"]))
        got = L.unpack_act(got.reshape(-1, PIN), ch, hh, ww, PIN).ravel()
        y = L.unpack_act(np.asarray(want["y"]), ch, hh, ww, PIN).ravel()
    assert np.array_equal(got, y), f"first diff at {np.flatnonzero(got != y)[:3]}: {got[got != y][:3]} vs {y[got != y][:3]}"
    if "acc" in want:
        acc = np.fromfile(d / f"c{i}_acc.out", dtype="<i8")
        assert np.array_equal(acc, want["acc"].ravel())


def test_cases_reach_every_requantization_path():
    """The cases are not vacuous: tight widths whose accumulators reach their worst case, negative
    shifts that saturate (y * 2^n passes the accumulator's width) and ones that land inside the
    range (exact left shifts), shifts at both ends of -40..40, and both clamps."""
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
                # past the width: y * 2^-s does not fit the accumulator / product type
                width = c.get("prod_bits", c["acc_bits"])
                past = np.abs(pre) >= (1 << max(width - 1 + int(s), 0))
                neg_sat |= bool((past & (pre != 0) & (v == hi)).any())
                neg_exact |= bool(((v > lo) & (v < hi) & (pre != 0)).any())
    assert min(shifts) == -40 and max(shifts) == 40 and {-1, 0, 1} <= shifts
    assert neg_sat and neg_exact
    allv = np.concatenate([c["out"].ravel() for c in req if c["kind"] != "head"])
    assert (allv == 0).any() and (allv == 255).any() and ((allv > 0) & (allv < 255)).any()


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
    _render_library(tmp_path, [])
    cases = "\n".join(f"      case {w}: v = requantize(sint<{w}>::type(t[5 * i + 1]), int(t[5 * i + 2]), t[5 * i + 3], "
                      f"t[5 * i + 4]); break;" for w in WIDTHS)
    prog = f"""#include <cstdio>
#include <vector>
#include "unet_kernels.h"
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
    _compile(tmp_path, prog, mode)
    got = np.fromfile(tmp_path / "out.bin", dtype="<i8")
    want = np.array([requant_exact(y, s, lo, hi) for _, y, s, lo, hi in table.tolist()])
    bad = np.flatnonzero(got != want)
    assert not bad.size, [(table[i].tolist(), int(got[i]), int(want[i])) for i in bad[:5]]
    assert got[0] == 255 and got[1] == 0 and got[2] == 127  # 1000 << 2 saturates, never wraps
