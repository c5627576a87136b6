"""The RTL generator's tables (no simulator): word packing, layout, load-path words, errors."""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from unetaccel.codegen import regmap
from unetaccel.codegen.layout import LanesError, check_lanes, pack_convt
from unetaccel.codegen import generate
from unetaccel.codegen.rtl_project import (MultError, _conv_words, check_mult, datapath_widths, emit_rtl,
                                           generate_rtl, layout, load_words, max_weight_bits, memories,
                                           has_pairs, pair_words, param_bytes, param_words, tables, weight_parts,
                                           W_BANK_WORDS)
from unetaccel.ir import IRError, randnet
from unetaccel.ir.ops import MAX_SHIFT

SEED = 5


def test_conv_words_follow_the_concat_split():
    """Word [go][gi][ky][kx], lane (j, i): weight of output go*POUT+j and the input channel that
    input lane i of group gi holds: source groups first, then skip groups, each zero-padded."""
    rng = np.random.default_rng(SEED)
    print("seed", SEED)
    pin, pout, cin0, cin1, cout, k = 2, 4, 3, 4, 5, 3
    w = rng.integers(-15, 16, (cout, cin0 + cin1, k, k))
    words = _conv_words(w, cin0, cin1, pin, pout)
    g0, g1, go = 2, 2, 2
    assert words.shape == (go * (g0 + g1) * k * k, pout, pin)
    for o in range(go):
        for g in range(g0 + g1):
            for ky in range(k):
                for kx in range(k):
                    word = words[((o * (g0 + g1) + g) * k + ky) * k + kx]
                    for j in range(pout):
                        for i in range(pin):
                            co = o * pout + j
                            c = g * pin + i if g < g0 else cin0 + (g - g0) * pin + i
                            valid = co < cout and (c < cin0 if g < g0 else (g - g0) * pin + i < cin1)
                            assert word[j, i] == (w[co, c, ky, kx] if valid else 0)


def test_convt_words_are_output_group_then_phase_major():
    """The one transposed-conv packer (HLS ROM and RTL weight memory): word (og * 4 + phase) * NCG + ig."""
    rng = np.random.default_rng(SEED + 1)
    print("seed", SEED + 1)
    pin, pout, cin, cout = 4, 2, 6, 3
    w = rng.integers(-15, 16, (cin, cout, 2, 2))
    words = pack_convt(w, pin, pout).reshape(-1, pout, pin)
    assert words.shape == (2 * 4 * 2, pout, pin)
    for o in range(2):
        for ph in range(4):
            for g in range(2):
                word = words[(o * 4 + ph) * 2 + g]
                for j in range(pout):
                    for i in range(pin):
                        c, co = g * pin + i, o * pout + j
                        want = w[c, co, ph >> 1, ph & 1] if c < cin and co < cout else 0
                        assert word[j, i] == want


def _unpack(parts: np.ndarray, nwords: int, lanes: int, bits: int) -> np.ndarray:
    """The load path's 32-bit parts back to signed weight lanes (the reading side, written out
    with Python integers independently of the generator's packer)."""
    per = len(parts) // nwords
    out = np.zeros((nwords, lanes), np.int64)
    for n in range(nwords):
        word = sum(int(v) << (32 * p) for p, v in enumerate(parts[n * per:(n + 1) * per]))
        for k in range(lanes):
            v = (word >> (bits * k)) & ((1 << bits) - 1)
            out[n, k] = v - (1 << bits) if v >> (bits - 1) else v
    return out


@pytest.mark.parametrize("cin0,cin1,cout,k,lanes", [(3, 0, 4, 3, (8, 8)), (4, 4, 4, 3, (8, 8)), (2, 3, 1, 1, (8, 8)),
                                                    (4, 0, 3, 5, (8, 8)), (8, 8, 8, 3, (16, 16)), (1, 0, 2, 3, (2, 4))])
def test_pair_words_compute_the_conv(cin0, cin1, cout, k, lanes):
    """A paired conv's weight words, applied the way unet_core does (output pixels x and x + 1 at
    once from nkx reads a kernel row of two neighbouring input pixels, each concat part its own
    input group, padding zero, an odd width's last pair without its second pixel), give exactly
    the direct convolution of random integers."""
    rng = np.random.default_rng(SEED + k)
    print("seed", SEED + k)
    pin, pout = lanes
    H, W = 5, 7
    w = rng.integers(-15, 16, (cout, cin0 + cin1, k, k))
    x = rng.integers(0, 256, (cin0 + cin1, H, W))
    pad = k // 2
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    want = np.einsum("oikl,iyxkl->oyx", w, np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2)))
    nkx = (k + 2) // 2
    parts = [(0, cin0)] + ([(cin0, cin1)] if cin1 else [])
    words = pair_words(w, cin0, cin1, pin, pout)
    assert len(words) == len(parts) * k * nkx  # taps an output group: ngi x K x nkx
    words = words.reshape(len(parts), k, nkx, pout, pin)
    got = np.zeros_like(want)
    for y in range(H):
        for x0 in range(0, W, 2):
            acc = np.zeros(pout, np.int64)
            for g, (c0, n) in enumerate(parts):
                for ky in range(k):
                    for r in range(nkx):
                        v = np.zeros(pin, np.int64)
                        for e in range(2):
                            ix, iy = x0 - pad + 2 * r + e, y - pad + ky
                            if 0 <= ix < W and 0 <= iy < H:
                                v[e * pin // 2:e * pin // 2 + n] = x[c0:c0 + n, iy, ix]
                        acc += words[g, ky, r] @ v
            got[:, y, x0] = acc[:cout]
            if x0 + 1 < W:
                got[:, y, x0 + 1] = acc[pout // 2:pout // 2 + cout]
    np.testing.assert_array_equal(got, want)


def test_pairs_only_where_a_layer_fits_half_the_lanes():
    """The default network has no paired conv at 8x8 (its narrowest conv has 8 output channels;
    the engine then keeps one activation memory and no pair logic) and four at 16x16 (the 64x64
    convs of 8 channels: enc0.0, enc0.1 and the decoder's last two, whose concat parts are 8 each);
    a paired row's taps are ngi x K x (K + 2) / 2 and its parameters repeat in the upper lanes."""
    net = randnet.random_unet(seed=SEED)
    assert not has_pairs(net, (8, 8)) and has_pairs(net, (16, 16))
    _, _, _, rows, _, mul, bias, shift = tables(net, (16, 16))
    paired = [r for r in rows if r["pair"]]
    assert [(r["cin0"], r["cin1"], r["cout"]) for r in paired] == [(3, 0, 8), (8, 0, 8), (8, 8, 8), (8, 0, 8)]
    for r in paired:
        assert r["taps"] == (1 + (r["cin1"] > 0)) * 3 * 2
        for arr in (mul, bias, shift):
            np.testing.assert_array_equal(arr[r["pbase"], 8:], arr[r["pbase"], :8])
    assert not any(r["pair"] for r in tables(net, (8, 8))[3])


def _weight_lines(rtl: Path) -> list[str]:
    """The weight memory's words, from its banks' .mem files in the order layout.json lists them."""
    files = json.loads((rtl / "layout.json").read_text())["weight_files"]
    return [line for f in files for line in (rtl / f).read_text().split()]


def test_weight_memory_is_banked_at_block_ram_depth(tmp_path):
    """More than W_BANK_WORDS weight words: the core declares one memory of W_BANK_WORDS words a
    bank (the last the rest), each initialised from its own file holding its slice of the words;
    a smaller network regenerated into the folder leaves no stale bank file behind."""
    net = randnet.random_unet(widths=(4, 8, 16), num_classes=3, size=(8, 8), seed=SEED)
    words = len(tables(net, (2, 2))[4])
    assert words > W_BANK_WORDS  # two banks at 2x2 lanes
    generate_rtl(net, tmp_path, lanes=(2, 2))
    core = (tmp_path / "unet_core.sv").read_text()
    depths = [int(d) + 1 for d in re.findall(r"reg \[WW-1:0\] wmem\d+ \[0:(\d+)\]", core)]
    assert depths == [W_BANK_WORDS] * (words // W_BANK_WORDS) + [words % W_BANK_WORDS]
    for b, n in enumerate(depths):
        assert f'$readmemh("weights_{b}.mem", wmem{b});' in core
        assert len((tmp_path / f"weights_{b}.mem").read_text().split()) == n
    assert len(_weight_lines(tmp_path)) == words
    small = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    generate_rtl(small, tmp_path, lanes=(2, 2))
    assert sorted(p.name for p in tmp_path.glob("weights*.mem")) == ["weights_0.mem"]
    assert re.findall(r"reg \[WW-1:0\] (wmem\d+) ", (tmp_path / "unet_core.sv").read_text()) == ["wmem0"]


@pytest.mark.parametrize("lanes", [(4, 4), (8, 8), (4, 16), (16, 4), (2, 2)])
def test_layout_words_and_load_path_round_trip(lanes, tmp_path):
    """Tensors fit the activation memory in words of max(PIN, POUT) channels; the load path's
    words and the .mem file hold exactly the weight words, packed at the network's 5 bits."""
    net = randnet.random_unet(widths=(3, 5, 6), num_classes=7, size=(8, 12), seed=SEED)
    pin, pout = lanes
    A = max(lanes)
    steps, base, depth = layout(net, lanes)
    for t, b in base.items():
        c, h, w = net.tensors[t].shape
        assert b + -(-c // A) * h * w <= depth
    _, _, _, rows, weights, mul, bias, shift = tables(net, lanes)
    assert weights.shape[1:] == (pout, pin)
    words = load_words(net, lanes)
    parts = weight_parts(lanes, 5)
    assert parts == math.ceil(math.ceil(pin * pout * 5 / 8) / 4)  # whole bytes, then 32-bit parts
    assert len(words["weights"]) == len(weights) * parts
    back = _unpack(words["weights"], len(weights), pin * pout, 5)
    np.testing.assert_array_equal(back, weights.reshape(len(weights), -1))
    assert len(words["bn_mul"]) == len(words["bn_bias"]) == len(words["shift"]) == mul.size
    # the .mem file: one hex line a word, the same bits as the load path's parts
    generate_rtl(net, tmp_path, lanes=lanes)
    lines = _weight_lines(tmp_path)
    assert len(lines) == len(weights)
    for n in (0, len(weights) // 2, len(weights) - 1):
        word = sum(int(v) << (32 * p) for p, v in enumerate(words["weights"][n * parts:(n + 1) * parts]))
        assert int(lines[n], 16) == word
    assert [r["op"] for r in rows][-1] == regmap.OPCODES["argmax"]
    # the argmax is fused into the logits conv (the row before it): whole-network mode ends there
    assert [r["fuse"] for r in rows] == [0] * (len(rows) - 2) + [1, 0]
    assert rows[-2]["op"] == regmap.OPCODES["conv_bias"] and rows[-1]["dst"] == rows[-2]["dst"]
    lay = json.loads((tmp_path / "layout.json").read_text())
    assert lay["lanes"] == [pin, pout] and lay["weight_bits"] == 5 and lay["weight_parts"] == parts


@pytest.mark.parametrize("lanes,wbits", [((32, 32), 8), ((8, 8), 5), ((2, 2), 5), ((32, 16), 8)])
def test_load_path_counters_are_sized_from_their_values(tmp_path, lanes, wbits):
    """WEIGHT_PARTS and the part counter are as wide as their values need (at 32x32 lanes of
    8-bit weights a word is 256 parts: an 8-bit WEIGHT_PARTS read 0)."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED, weight_bits=wbits)
    generate_rtl(net, tmp_path, lanes=lanes)
    parts = weight_parts(lanes, wbits)
    regs = (tmp_path / "unet_regs.sv").read_text()
    m = re.search(r"localparam \[(\d+):0\] WEIGHT_PARTS = (?:(\d+)'d)?(\d+);", regs)
    assert m, "no WEIGHT_PARTS localparam in unet_regs.sv"
    msb, value = int(m.group(1)), int(m.group(3))
    assert value == parts and int(m.group(2) or msb + 1) == msb + 1
    assert parts < 1 << (msb + 1), f"WEIGHT_PARTS = {parts} does not fit [{msb}:0]"
    for name in ("unet_regs.sv", "unet_core.sv", "unet_accel.sv"):
        m = re.search(r"\[(\d+):0\]\s+wl_part\b", (tmp_path / name).read_text())
        assert m and parts - 1 < 1 << (int(m.group(1)) + 1), f"{name}: wl_part cannot count {parts} parts"


@pytest.mark.parametrize("lanes", [(8, 8), (4, 16)])
def test_memories_are_what_the_verilog_declares(tmp_path, lanes):
    """memories() (the benchmarks' view of the block RAM) matches the generated files: each
    .mem file's lines and hex digits, and the activation memory's depth parameter."""
    net = randnet.random_unet(widths=(3, 5, 6), num_classes=7, size=(8, 12), seed=SEED)
    mems = memories(net, lanes)
    generate_rtl(net, tmp_path, lanes=lanes)
    for name, mem in (("wmem", None), ("pmem", "bn_params.mem"), ("ltab", "layers.mem")):
        lines = _weight_lines(tmp_path) if mem is None else (tmp_path / mem).read_text().split()
        assert mems[name] == (4 * len(lines[0]), len(lines)), name
    core = (tmp_path / "unet_core.sv").read_text()
    depth = int(re.search(r"parameter integer ACT_DEPTH = (\d+)", core).group(1))
    assert mems["act"] == (8 * max(lanes), depth)


@pytest.mark.parametrize("lanes", [(8, 8), (4, 16), (2, 2)])
def test_parameter_memory_decodes_to_the_load_paths_entries(tmp_path, lanes):
    """bn_params.mem, decoded here independently (a lane of mul_bits and bias_bits in whole bytes
    and a shift byte, lane 0 lowest, two's complement), holds exactly the entries the load path
    writes to bn_mul, bn_bias and shift; the Verilog's pmem is that wide."""
    net = randnet.random_unet(widths=(3, 5, 6), num_classes=7, size=(8, 12), seed=SEED, negative_shifts=True)
    pout = lanes[1]
    generate_rtl(net, tmp_path, lanes=lanes)
    dp = json.loads((tmp_path / "layout.json").read_text())["datapath"]
    mb, bb = -(-dp["mul_bits"] // 8), -(-dp["bias_bits"] // 8)
    lane = 8 * (mb + bb + 1)
    words = [int(line, 16) for line in (tmp_path / "bn_params.mem").read_text().split()]

    def signed(v: int, nbytes: int) -> int:
        return v - (1 << 8 * nbytes) if v >> (8 * nbytes - 1) else v

    got = {"bn_mul": [], "bn_bias": [], "shift": []}
    for word in words:
        for j in range(pout):
            v = word >> (lane * j)
            got["bn_mul"].append(signed(v & ((1 << 8 * mb) - 1), mb))
            got["bn_bias"].append(signed(v >> 8 * mb & ((1 << 8 * bb) - 1), bb))
            got["shift"].append(signed(v >> 8 * (mb + bb) & 0xFF, 1))
    want = load_words(net, lanes)
    for name, values in got.items():
        np.testing.assert_array_equal(np.array(values, np.int64), want[name].view(np.int32), name)
    assert min(got["shift"]) < 0 < max(got["shift"]) and min(got["bn_bias"]) < 0 < max(got["bn_bias"])
    core = (tmp_path / "unet_core.sv").read_text()
    assert re.search(r"reg \[PLB\*POUT-1:0\] pmem \[0:P_DEPTH-1\]", core)
    assert memories(net, lanes)["pmem"] == (lane * pout, len(words))


def test_parameters_beyond_the_datapath_are_refused():
    """A BatchNorm bias the datapath's bias_bits cannot hold would be cut by the parameter memory:
    the generator refuses it by name."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    _, _, _, _, _, mul, bias, shift = tables(net, (8, 8))
    dp = datapath_widths(net)
    assert param_words(mul, bias, shift, dp).shape == (*mul.shape, sum(param_bytes(dp)) + 1)
    need = max(int(v).bit_length() for v in np.concatenate([bias.ravel(), ~bias.ravel()])) + 1  # signed bits
    assert need > 2
    with pytest.raises(IRError, match=f"bias .* does not fit the datapath's {need - 1} bits"):
        param_words(mul, bias, shift, {**dp, "bias_bits": need - 1})
    assert param_words(mul, bias, shift, {**dp, "bias_bits": need}).shape[-1] == param_bytes(dp)[0] + -(-need // 8) + 1
    with pytest.raises(IRError, match="multiplier .* does not fit the datapath's 2 bits"):
        param_words(mul, bias, shift, {**dp, "mul_bits": 2})


def test_shift_load_words_are_signed_32_bit():
    """The load path's shift entries are the shifts as two's-complement 32-bit words (the RTL
    refuses one outside [-MAX_SHIFT, MAX_SHIFT]), left shifts down to -MAX_SHIFT included."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED, negative_shifts=True)
    shift = tables(net, (8, 8))[7].reshape(-1)
    assert shift.min() == -MAX_SHIFT
    np.testing.assert_array_equal(load_words(net, (8, 8))["shift"].view(np.int32), shift)


def test_weights_wider_than_the_generated_memory_are_refused():
    """A network of 8-bit weights cannot be loaded into RTL generated for 5-bit weights."""
    wide = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED, weight_bits=8)
    assert max_weight_bits(wide) == 8
    with pytest.raises(IRError, match="do not fit the 5-bit weight memory"):
        load_words(wide, (4, 4), wbits=5)


def test_datapath_is_generated_at_the_networks_widths(tmp_path):
    """The engine's accumulators, BatchNorm multiplier and product are the IR's widest (not 32 x
    32 -> 64 bits): on the default network an ACCB x 8 multiply fits one DSP48E1 (25 x 18) a lane
    and the product the IR's bound; layout.json records the widths the RTL was generated with."""
    net = randnet.random_unet(seed=SEED)  # the default shapes
    generate_rtl(net, tmp_path)
    core = (tmp_path / "unet_core.sv").read_text()
    got = {name: int(re.search(rf"parameter integer {name} = (\d+)", core).group(1))
           for name in ("ACCB", "MBITS", "BBITS", "PBITS")}
    acc = max(int(lay.attrs["acc_bits"]) for lay in net.layers if "acc_bits" in lay.attrs)
    prod = max(int(lay.attrs["prod_bits"]) for lay in net.layers if lay.op == "batchnorm")
    assert got["ACCB"] == acc and got["MBITS"] == 8 and got["PBITS"] == prod, (got, acc, prod)
    assert got["ACCB"] <= 25 and got["MBITS"] <= 18 and prod < 48 and got["BBITS"] <= got["PBITS"]
    lay = json.loads((tmp_path / "layout.json").read_text())
    assert lay["datapath"] == {"acc_bits": got["ACCB"], "mul_bits": got["MBITS"], "bias_bits": got["BBITS"],
                               "prod_bits": got["PBITS"]}


def test_load_path_refuses_a_network_needing_a_wider_datapath():
    """Parameters loaded at run time must fit the widths the RTL was generated with."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    dp = datapath_widths(net)
    assert load_words(net, (8, 8), datapath=dp)["bn_mul"].size > 0
    with pytest.raises(IRError, match=f"prod_bits {dp['prod_bits']} > {dp['prod_bits'] - 1}"):
        load_words(net, (8, 8), datapath={**dp, "prod_bits": dp["prod_bits"] - 1})


@pytest.mark.parametrize("lanes", [(3, 3), (1, 1), (64, 64), (2, 64), (4, 3)])
def test_unsupported_lanes_are_refused_by_name(lanes):
    with pytest.raises(LanesError, match=f"--lanes {lanes[0]}x{lanes[1]}"):
        check_lanes(lanes)


def test_non_square_lanes_are_accepted():
    assert check_lanes((4, 16)) == (4, 16) and check_lanes((32, 2)) == (32, 2)


@pytest.mark.parametrize("wbits,pin_max", [(2, 32), (5, 32), (6, 16)])
def test_dsp2_takes_the_lanes_whose_low_field_holds_its_sum(wbits, pin_max):
    """dsp2 packs lane 2k's sum of PIN products into 18 signed bits: |sum| <= 255 x 2^(wbits-1) x PIN
    must stay below 2^17 (W5: PIN 32 gives 130,560); beyond it, and for weights whose pair passes
    the DSP48E1's 25-bit port, the generator refuses by the option's name."""
    for pin in (2, 4, 8, 16, 32):
        if pin <= pin_max:
            assert check_mult("dsp2", (pin, 2), wbits) == "dsp2"
            assert 255 * (1 << (wbits - 1)) * pin < 1 << 17
        else:
            with pytest.raises(MultError, match=f"--mult dsp2 at {pin}x2 lanes: .* PIN <= {pin_max}\\); use --mult dsp"):
                check_mult("dsp2", (pin, 2), wbits)
    assert check_mult("dsp", (32, 32), 8) == "dsp"


def test_dsp2_refuses_weights_wider_than_the_dsp_port_and_unknown_styles(tmp_path):
    with pytest.raises(MultError, match="--mult dsp2 with 7-bit weights: a packed weight pair takes 26 bits, over "
                                        "the DSP48E1's 25-bit multiplier port"):
        check_mult("dsp2", (2, 2), 7)
    with pytest.raises(MultError, match="--mult 'dsp4': one of dsp, dsp2"):
        check_mult("dsp4", (8, 8), 5)
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED, weight_bits=8)
    with pytest.raises(MultError, match="--mult dsp2 at 8x8 lanes: a lane's sum of 8 products of a code and an? "
                                        "8-bit weight reaches 261120"):
        generate(net, tmp_path / "b", lanes=(8, 8), mult="dsp2")
    assert not (tmp_path / "b").exists()  # refused before anything is written


def test_dsp2_changes_only_the_core_and_halves_its_multipliers():
    """--mult dsp2 rewrites the product stage and the tree of unet_core.sv only (the memories,
    the load path and layout.json are the same); its product stage has PIN x POUT / 2 products."""
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)
    a, b = emit_rtl(net, (8, 4)), emit_rtl(net, (8, 4), mult="dsp2")
    assert sorted(a) == sorted(b) and [f for f in a if a[f] != b[f]] == ["unet_core.sv"]
    core = b["unet_core.sv"]
    assert "localparam integer KP = PIN * PK;" in core and "localparam integer PK = POUT / 2;" in core
    assert "kt[j * PIN + i] <= KW'(wk3[j * PIN + i]) * KW'($signed({1'b0, d3_sh[8*i +: 8]}));" in core
    assert "for (j = 0; j < PK; j = j + 1)\n            for (i = 0; i < PIN; i = i + 1)\n                kt[" in core  # (the datapath block's body)
    assert "w_3[" not in core and "w_3[" in a["unet_core.sv"]
