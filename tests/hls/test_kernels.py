"""Each HLS kernel on its own against the NumPy reference: random shapes (odd sizes),
random values, negative shifts and saturation, in both type modes."""
import subprocess

import numpy as np
import pytest

from unetaccel.codegen.render import render_to
from unetaccel.hls.csim import AP_FLAGS, CXXFLAGS
from unetaccel.ir import reference as R
from unetaccel.ir.arith import requantize
from unetaccel.tools import ap_types_include, cxx

SEED = 2024
rng = np.random.default_rng(SEED)


def _cases():
    cases = []
    for i in range(6):  # conv + BN + ReLU, odd sizes, with and without a second (concat) input
        c0, c1, cout = int(rng.integers(1, 6)), int(rng.integers(0, 4)), int(rng.integers(1, 11))
        h, w, k = int(rng.integers(1, 8)), int(rng.integers(1, 9)), int(rng.choice([1, 3, 5]))
        cases.append(dict(kind="conv_bn", c0=c0, c1=c1, cout=cout, h=h, w=w, k=k))
    for i in range(3):
        cases.append(dict(kind="head", cin=int(rng.integers(1, 12)), cout=int(rng.integers(2, 9)),
                          h=int(rng.integers(1, 6)), w=int(rng.integers(1, 7))))
    for i in range(3):
        cases.append(dict(kind="convt", cin=int(rng.integers(1, 12)), cout=int(rng.integers(1, 10)),
                          h=int(rng.integers(1, 5)), w=int(rng.integers(1, 6))))
    for i in range(2):
        cases.append(dict(kind="pool", c=int(rng.integers(1, 5)), h=2 * int(rng.integers(1, 5)),
                          w=2 * int(rng.integers(1, 6))))
    cases.append(dict(kind="argmax", k=5, h=3, w=7))
    return cases


CASES = _cases()


def _harness(cases):
    lines = ['#include <cstdio>', '#include <vector>', '#include "unet_kernels.h"', "using namespace unet;",
             "template <class T> std::vector<T> rd(const char* p, size_t n) { std::vector<T> v(n); FILE* f = std::fopen(p, \"rb\");"
             " if (!f || std::fread(v.data(), sizeof(T), n, f) != n) { std::printf(\"read %s\\n\", p); } if (f) std::fclose(f); return v; }",
             "template <class T> void wr(const char* p, const T* d, size_t n) { FILE* f = std::fopen(p, \"wb\"); std::fwrite(d, sizeof(T), n, f); std::fclose(f); }"]
    body = []
    for i, c in enumerate(cases):
        cfg = f"cfg{i}"
        if c["kind"] == "conv_bn":
            cin = c["c0"] + c["c1"]
            lines.append(f"struct {cfg} {{ static const int CIN0 = {c['c0']}, CIN1 = {c['c1']}, COUT = {c['cout']}, "
                         f"H = {c['h']}, W = {c['w']}, K = {c['k']}, PAD = {(c['k'] - 1) // 2}; static const long LO = 0, HI = 255; "
                         "typedef acc_type<32>::type acc_t;\n#ifdef UNET_AP_TYPES\n typedef ap_int<48> prod_t;\n#else\n typedef int64_t prod_t;\n#endif\n};")
            n_in0, n_in1 = c["c0"] * c["h"] * c["w"], max(c["c1"], 1) * c["h"] * c["w"]
            n_out = c["cout"] * c["h"] * c["w"]
            body.append(f"  {{ auto x0 = rd<act_t>(\"c{i}_x0.bin\", {n_in0}); auto x1 = rd<act_t>(\"c{i}_x1.bin\", {n_in1});"
                        f" auto w = rd<wrom_t>(\"c{i}_w.bin\", {c['cout'] * cin * c['k'] ** 2}); auto m = rd<mulrom_t>(\"c{i}_m.bin\", {c['cout']});"
                        f" auto b = rd<biasrom_t>(\"c{i}_b.bin\", {c['cout']}); auto s = rd<shiftrom_t>(\"c{i}_s.bin\", {c['cout']});"
                        f" std::vector<act_t> y({n_out}); std::vector<long long> acc({n_out});"
                        f" conv_bn_relu<{cfg}>(x0.data(), {'x1.data()' if c['c1'] else '(const act_t*)0'}, y.data(), w.data(), m.data(), b.data(), s.data(), acc.data());"
                        f" std::vector<unsigned char> yo({n_out}); for (int j = 0; j < {n_out}; j++) yo[j] = (unsigned char)(unsigned)y[j];"
                        f" wr(\"c{i}_y.bin\", yo.data(), {n_out}); wr(\"c{i}_acc.bin\", acc.data(), {n_out}); }}")
        elif c["kind"] == "head":
            lines.append(f"struct {cfg} {{ static const int CIN = {c['cin']}, COUT = {c['cout']}, H = {c['h']}, W = {c['w']};"
                         " static const long LO = -128, HI = 127; typedef acc_type<32>::type acc_t; };")
            n_out = c["cout"] * c["h"] * c["w"]
            body.append(f"  {{ auto x = rd<act_t>(\"c{i}_x0.bin\", {c['cin'] * c['h'] * c['w']}); auto w = rd<wrom_t>(\"c{i}_w.bin\", {c['cout'] * c['cin']});"
                        f" auto b = rd<biasrom_t>(\"c{i}_b.bin\", {c['cout']}); auto s = rd<shiftrom_t>(\"c{i}_s.bin\", {c['cout']});"
                        f" std::vector<logit_t> y({n_out}); conv1x1_bias<{cfg}>(x.data(), y.data(), w.data(), b.data(), s.data(), (long long*)0);"
                        f" std::vector<signed char> yo({n_out}); for (int j = 0; j < {n_out}; j++) yo[j] = (signed char)(int)y[j];"
                        f" wr(\"c{i}_y.bin\", yo.data(), {n_out}); }}")
        elif c["kind"] == "convt":
            lines.append(f"struct {cfg} {{ static const int CIN = {c['cin']}, COUT = {c['cout']}, H = {c['h']}, W = {c['w']};"
                         " static const long LO = 0, HI = 255; typedef acc_type<32>::type acc_t; };")
            n_out = c["cout"] * 4 * c["h"] * c["w"]
            body.append(f"  {{ auto x = rd<act_t>(\"c{i}_x0.bin\", {c['cin'] * c['h'] * c['w']}); auto w = rd<wrom_t>(\"c{i}_w.bin\", {c['cout'] * c['cin'] * 4});"
                        f" auto s = rd<shiftrom_t>(\"c{i}_s.bin\", {c['cout']}); std::vector<act_t> y({n_out});"
                        f" conv_transpose2x2<{cfg}>(x.data(), y.data(), w.data(), s.data());"
                        f" std::vector<unsigned char> yo({n_out}); for (int j = 0; j < {n_out}; j++) yo[j] = (unsigned char)(unsigned)y[j];"
                        f" wr(\"c{i}_y.bin\", yo.data(), {n_out}); }}")
        elif c["kind"] == "pool":
            lines.append(f"struct {cfg} {{ static const int C = {c['c']}, H = {c['h']}, W = {c['w']}; }};")
            n_out = c["c"] * c["h"] * c["w"] // 4
            body.append(f"  {{ auto x = rd<act_t>(\"c{i}_x0.bin\", {c['c'] * c['h'] * c['w']}); std::vector<act_t> y({n_out});"
                        f" maxpool2x2<{cfg}>(x.data(), y.data());"
                        f" std::vector<unsigned char> yo({n_out}); for (int j = 0; j < {n_out}; j++) yo[j] = (unsigned char)(unsigned)y[j];"
                        f" wr(\"c{i}_y.bin\", yo.data(), {n_out}); }}")
        else:
            lines.append(f"struct {cfg} {{ static const int K = {c['k']}, H = {c['h']}, W = {c['w']}; }};")
            n = c["h"] * c["w"]
            body.append(f"  {{ auto xs = rd<signed char>(\"c{i}_x0.bin\", {c['k'] * n}); std::vector<logit_t> x({c['k'] * n});"
                        f" for (int j = 0; j < {c['k'] * n}; j++) x[j] = logit_t(xs[j]); std::vector<class_t> y({n});"
                        f" argmax<{cfg}>(x.data(), y.data());"
                        f" std::vector<unsigned char> yo({n}); for (int j = 0; j < {n}; j++) yo[j] = (unsigned char)(unsigned)y[j];"
                        f" wr(\"c{i}_y.bin\", yo.data(), {n}); }}")
    return "\n".join(lines) + "\nint main() {\n" + "\n".join(body) + "\n  return 0;\n}\n"


def _inputs(c, i, d):
    """Random inputs of case i (written to d) and the reference outputs."""
    r = np.random.default_rng(SEED + i)
    out = {}
    if c["kind"] == "conv_bn":
        cin = c["c0"] + c["c1"]
        x = r.integers(0, 256, (1, cin, c["h"], c["w"]))
        w = r.integers(-15, 16, (c["cout"], cin, c["k"], c["k"]))
        m = r.integers(-127, 128, c["cout"])
        b = r.integers(-(1 << 20), 1 << 20, c["cout"])
        s = r.integers(-3, 20, c["cout"])  # negative shifts, large ones, saturation at 0 and 255
        x[:, :c["c0"]].astype(np.uint8).tofile(d / f"c{i}_x0.bin")
        (x[:, c["c0"]:] if c["c1"] else np.zeros((1, 1, c["h"], c["w"]))).astype(np.uint8).tofile(d / f"c{i}_x1.bin")
        w.astype(np.int8).tofile(d / f"c{i}_w.bin")
        m.astype(np.int8).tofile(d / f"c{i}_m.bin")
        b.astype(np.int32).tofile(d / f"c{i}_b.bin")
        s.astype(np.int8).tofile(d / f"c{i}_s.bin")
        acc = R.conv2d(x, w, (c["k"] - 1) // 2)
        y = requantize(acc * m.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1), s.reshape(1, -1, 1, 1), 0, 255)
        out = {"acc": acc[0], "y": y[0]}
    elif c["kind"] == "head":
        x = r.integers(0, 256, (1, c["cin"], c["h"], c["w"]))
        w = r.integers(-15, 16, (c["cout"], c["cin"], 1, 1))
        b = r.integers(-20000, 20000, c["cout"])
        s = r.integers(-1, 8, c["cout"])
        x.astype(np.uint8).tofile(d / f"c{i}_x0.bin")
        w.astype(np.int8).tofile(d / f"c{i}_w.bin")
        b.astype(np.int32).tofile(d / f"c{i}_b.bin")
        s.astype(np.int8).tofile(d / f"c{i}_s.bin")
        out = {"y": requantize(R.conv2d(x, w, 0, b), s.reshape(1, -1, 1, 1), -128, 127)[0]}
    elif c["kind"] == "convt":
        x = r.integers(0, 256, (1, c["cin"], c["h"], c["w"]))
        w = r.integers(-15, 16, (c["cin"], c["cout"], 2, 2))
        s = r.integers(-2, 10, c["cout"])
        x.astype(np.uint8).tofile(d / f"c{i}_x0.bin")
        w.astype(np.int8).tofile(d / f"c{i}_w.bin")
        s.astype(np.int8).tofile(d / f"c{i}_s.bin")
        out = {"y": requantize(R.conv_transpose2d_k2s2(x, w), s.reshape(1, -1, 1, 1), 0, 255)[0]}
    elif c["kind"] == "pool":
        x = r.integers(0, 256, (1, c["c"], c["h"], c["w"]))
        x.astype(np.uint8).tofile(d / f"c{i}_x0.bin")
        out = {"y": R.maxpool2x2(x)[0]}
    else:
        x = r.integers(-3, 3, (1, c["k"], c["h"], c["w"]))  # many ties
        x.astype(np.int8).tofile(d / f"c{i}_x0.bin")
        out = {"y": np.argmax(x, axis=1)[0]}
    return out


@pytest.fixture(scope="module", params=["native", "ap"])
def harness(request, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"kernels_{request.param}")
    ctx = {"banner": "kernel test", "weight_bits": 5, "weight_max": 15, "bn_mul_bits": 8, "bias_bits": 32,
           "pin": 4, "pout": 3, "pipeline_ii": 1}
    render_to("hls_project/unet_types.h.j2", d / "unet_types.h", ctx)
    render_to("hls_project/unet_kernels.h.j2", d / "unet_kernels.h", ctx)
    (d / "harness.cpp").write_text(_harness(CASES))
    flags = list(CXXFLAGS) + ["-I."]
    if request.param == "ap":
        flags += AP_FLAGS + ["-isystem", str(ap_types_include())]
    r = subprocess.run([cxx(), *flags, "harness.cpp", "-o", "harness"], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    refs = [_inputs(c, i, d) for i, c in enumerate(CASES)]
    r = subprocess.run(["./harness"], cwd=d, capture_output=True, text=True)
    assert r.returncode == 0 and not r.stdout, r.stdout + r.stderr
    return d, refs


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c['kind']}{i}" for i, c in enumerate(CASES)])
def test_kernel_matches_reference(harness, i):
    d, refs = harness
    c = CASES[i]
    print("seed", SEED, c)
    want = refs[i]
    dt = np.int8 if c["kind"] == "head" else np.uint8
    got = np.fromfile(d / f"c{i}_y.bin", dtype=dt).astype(np.int64)
    assert np.array_equal(got, want["y"].ravel()), f"first diff at {np.flatnonzero(got != want['y'].ravel())[:3]}"
    if "acc" in want:
        acc = np.fromfile(d / f"c{i}_acc.bin", dtype=np.int64)
        assert np.array_equal(acc, want["acc"].ravel())


def test_cases_exercise_saturation_and_negative_shifts():
    """The random cases really reach both clamps (not a vacuous test)."""
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as t:
        ys = [_inputs(c, i, Path(t))["y"] for i, c in enumerate(CASES) if c["kind"] == "conv_bn"]
    allv = np.concatenate([y.ravel() for y in ys])
    assert (allv == 0).any() and (allv == 255).any() and ((allv > 0) & (allv < 255)).any()
