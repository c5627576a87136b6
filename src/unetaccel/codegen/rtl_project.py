"""IR -> synthesizable Verilog of the accelerator (BUILD/rtl).

Fixed modules rendered from Jinja2 templates (constants from the register-map
description), plus what is network-specific: sizes, the layer table and the
.mem initialisation files of the weights, BatchNorm parameters and shifts.
The activation memory is laid out from tensor lifetimes (layout.place: an offset for
every tensor, disjoint from every tensor live at the same time); a concat is two source bases.

Lanes are (PIN, POUT), each a power of two: an activation word holds A = max(PIN, POUT)
channels; a weight word holds PIN x POUT weights of the network's weight width, packed.
The multipliers (`mult`, MULTS): "dsp", one a product (PIN x POUT); "dsp2", one for the products
of two output lanes that share an activation (PIN x POUT / 2; check_mult says when it is exact).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..errors import UnetaccelError
from ..ir.graph import IR, IRError
from . import ip, regmap
from ..ir.arith import fits
from ..ir.ops import MAX_SHIFT
from .cache import generation_record, locked, write_stamp
from .layout import (BOARD_PART, SUPPORTED_LANES, check_lanes, fused_argmax, groups, max_weight_bits, pack_channels, pack_conv,
                     pack_convt, place, plan)
from .render import render
from .writer import write_files

TEMPLATES = ("unet_core.sv", "unet_regs.sv", "unet_accel.sv", "unet_accel_ip.v", "tb_unet.sv", "unet_regmap.h",
             "vivado.tcl")
DESIGN_SOURCES = ("unet_core.sv", "unet_regs.sv", "unet_accel.sv")  # synthesizable, top unet_accel
SIM_SOURCES = ("tb_unet.sv",)  # the cocotb wrapper
PARAM_FILES = ("bn_params.mem", "layers.mem")  # $readmemh'd by unet_core, beside the weight banks' files
#: unet_core keeps the weight memory in banks of W_BANK_WORDS words (the depth of a block RAM at
#: 18 bits, an ECP5 DP16KD, and at 36, a RAMB36E1), each bank's read word registered beside it
#: before the bank select: as one memory, the select's mux over the block RAMs' outputs was the
#: critical path of place and route (94.4 MHz at 8x8 on the default widths). Bank b is
#: initialised from weight_files()[b].
W_BANK_WORDS = 1024
#: unet_core's memories kept out of block RAM (a Vivado / Yosys ram_style each); the others
#: (act, wmem) are block RAM. The BatchNorm parameters (pmem) at 8x8 on the default network are
#: 110 x 384 bits: as block RAM 6 RAMB36, which the act + weight memories' 104 leave no room
#: for within 110; as LUT RAM (288 RAM64M, about 1.7k LUT, Yosys synth_xilinx) they fit the LUT
#: budget.
MEM_STYLES = {"pmem": "distributed"}
OPCODE = {"conv_bn_relu": regmap.OPCODES["conv_bn"], "maxpool2x2": regmap.OPCODES["maxpool"],
          "conv_transpose2x2": regmap.OPCODES["conv_transpose"], "conv1x1_bias": regmap.OPCODES["conv_bias"],
          "add_requant": regmap.OPCODES["add"], "argmax": regmap.OPCODES["argmax"]}
#: The layer table's words, LTAB_WORDS a layer (zero after the last field): the fields of a
#: layer, then the products derived from them (derived()), which the engine takes from the table
#: in whole-network mode and computes by shift-add from the single-layer registers. `fuse` (1 on
#: the logits conv when layout.fused_argmax()) has whole-network mode fuse the argmax into that
#: conv: in class-map mode it loops pixel-major (output groups innermost), writes the class map
#: (at its word base, the logits': layout.shared_words) and streams it out as it goes, and the run ends with it (the argmax row is for
#: single-layer mode); in logits mode it writes the logits as the conv alone does.
FIELDS = ("op", "cin0", "cin1", "cout", "h", "w", "k", "pad", "src0", "src1", "dst", "wbase", "pbase", "lo", "hi",
          "fuse", "hw_in", "hw_out", "taps", "wcount", "words0", "words1", "words_out")
LTAB_WORDS = 32
DERIVED_FIELDS = FIELDS[FIELDS.index("hw_in"):]  # the products
#: The engine's multiplier styles (`generate` / `rtlsim --mult`): "dsp", a multiplier a product,
#: PIN x POUT of them (Yosys synth_xilinx maps each to a DSP48E1); "dsp2", output lanes 2k and
#: 2k+1 share one for the activation they share, x * (w_2k + w_2k+1 * 2^PACK_SHIFT), PIN x POUT / 2.
MULTS = ("dsp", "dsp2")
PACK_SHIFT = 18  # dsp2: where the high lane's field starts in a packed product
DSP_A_BITS = 25  # a DSP48E1 multiplies 25 x 18 bits: a packed weight pair must fit its A port


class MultError(UnetaccelError, ValueError):
    """A multiplier style (--mult) the generator cannot build for this network and these lanes."""


class BusErrorsError(UnetaccelError, ValueError):
    """An AXI-Lite error style (--bus-errors) the generator does not know."""


def check_mult(mult: str, lanes, wbits: int) -> str:
    """The multiplier style when the RTL can be built with it, else MultError naming --mult.
    dsp2 sums PIN packed products x_i * (w_2k,i + w_2k+1,i * 2^18) and splits the sum at bit 18:
    exact when lane 2k's sum, of PIN products of an 8-bit code (<= 255) and a weight of `wbits`
    bits (>= -2^(wbits-1): the width the weight memory and the run-time load path accept), stays
    below 2^17 in magnitude (W5: PIN <= 32), and the pair, wbits + 19 bits, fits the DSP48E1's
    25-bit multiplier port (wbits <= 6)."""
    if mult not in MULTS:
        raise MultError(f"--mult {mult!r}: one of {', '.join(MULTS)}")
    if mult == "dsp2":
        pin, pout = check_lanes(lanes)
        low = 255 * (1 << (wbits - 1)) * pin
        if low >= 1 << (PACK_SHIFT - 1):
            most = max([p for p in SUPPORTED_LANES if 255 * (1 << (wbits - 1)) * p < 1 << (PACK_SHIFT - 1)],
                       default=0)
            raise MultError(f"--mult dsp2 at {pin}x{pout} lanes: a lane's sum of {pin} products of a code and a "
                            f"{wbits}-bit weight reaches {low}, the packed product's low field holds less than "
                            f"2^{PACK_SHIFT - 1} = {1 << (PACK_SHIFT - 1)} (with {wbits}-bit weights PIN <= {most}); "
                            "use --mult dsp")
        if wbits + PACK_SHIFT + 1 > DSP_A_BITS:
            raise MultError(f"--mult dsp2 with {wbits}-bit weights: a packed weight pair takes {wbits + PACK_SHIFT + 1} "
                            f"bits, over the DSP48E1's {DSP_A_BITS}-bit multiplier port (weights of at most "
                            f"{DSP_A_BITS - PACK_SHIFT - 1} bits); use --mult dsp")
    return mult


def word_lanes(lanes) -> int:
    """Channels in an activation word: max(PIN, POUT)."""
    return max(check_lanes(lanes))


def layout(ir: IR, lanes=(8, 8)):
    """(steps, word base of every tensor, activation depth in words). A tensor of C channels takes
    ceil(C/A) x H x W words of A = max(PIN, POUT) channels ([group][y][x]); layout.place() gives
    each tensor, the logits and the class map included, a range no tensor live with it shares."""
    A = word_lanes(lanes)
    steps = plan(ir)
    words = lambda shape: groups(shape[0], A) * int(np.prod(shape[1:]))  # noqa: E731
    base, depth = place(ir, steps, words)
    return steps, base, depth


def _conv_words(w: np.ndarray, cin0: int, cin1: int, pin: int, pout: int) -> np.ndarray:
    """Conv weights (Cout, Cin, K, K) -> words [go][gi][ky][kx] of POUT x PIN (output lane, input
    lane); input channels of a concat: source groups first, then skip groups, each zero-padded.
    The HLS ROM's word order (layout.pack_conv), one word per row of POUT x PIN."""
    if w.shape[1] != cin0 + cin1:
        raise IRError(f"conv weights with {w.shape[1]} input channels, expected {cin0} + {cin1}")
    return pack_conv(w, cin0, pin, pout).reshape(-1, pout, pin)


def pair_layer(row: dict, lanes=(8, 8)) -> bool:
    """Whether a layer is a paired conv where the engine has pairs (unet_core's pair_c): a conv
    with BatchNorm whose input parts fit PIN/2 lanes and whose output fits POUT/2. Two neighbouring
    output pixels are computed at once (x in output lanes [0, POUT/2), x + 1 above), from reads of
    two neighbouring input pixels: (K + 2) // 2 reads a kernel row, weights from pair_words()."""
    pin, pout = check_lanes(lanes)
    return (row["op"] == regmap.OPCODES["conv_bn"] and 2 * row["cin0"] <= pin and 2 * row["cin1"] <= pin
            and 2 * row["cout"] <= pout)


def pair_words(w: np.ndarray, cin0: int, cin1: int, pin: int, pout: int) -> np.ndarray:
    """A paired conv's weights (Cout, Cin, K, K) -> words [gi][ky][r] of POUT x PIN: read r of a
    kernel row holds input pixels x - pad + 2r + e (e = 0, 1: input lanes [e PIN/2, (e+1) PIN/2))
    for output pixels x + d (d = 0, 1: output lanes [d POUT/2, ...)), so block (d, e) is the tap
    kx = 2r + e - d, or zeros where that is outside the kernel. One input group a concat part."""
    cout, cin, k, _ = w.shape
    if cin != cin0 + cin1:
        raise IRError(f"conv weights with {cin} input channels, expected {cin0} + {cin1}")
    hi, ho, nkx = pin // 2, pout // 2, (k + 2) // 2
    parts = [(0, cin0)] + ([(cin0, cin1)] if cin1 else [])
    out = np.zeros((len(parts), k, nkx, pout, pin), np.int64)
    for g, (c0, n) in enumerate(parts):
        for r in range(nkx):
            for d in range(2):
                for e in range(2):
                    kx = 2 * r + e - d
                    if 0 <= kx < k:
                        out[g, :, r, d * ho:d * ho + cout, e * hi:e * hi + n] = \
                            np.moveaxis(w[:, c0:c0 + n, :, kx], 2, 0)
    return out.reshape(-1, pout, pin)


def derived(row: dict, lanes=(8, 8), pairs: bool = False) -> dict:
    """The products unet_core derives from a layer's fields (S_DERIVE): input and output pixels,
    weight words an output group (taps) and in all (wcount), activation words of the source, skip
    and output tensors (the configuration check's bounds). `pairs`: the engine has paired convs
    (pair_layer)."""
    pin, pout = check_lanes(lanes)
    A = max(pin, pout)
    codes = regmap.OPCODES
    op = row["op"]
    conv, convt = op in (codes["conv_bn"], codes["conv_bias"]), op == codes["conv_transpose"]
    pool, add, argmax = op == codes["maxpool"], op == codes["add"], op == codes["argmax"]
    hw = row["h"] * row["w"]
    hw_out = 4 * hw if convt else hw // 4 if pool else hw
    ngi = (1 if pool else 2 if add else groups(row["cin0"], pin) + groups(row["cin1"], pin) if conv
           else groups(row["cin0"], pin))
    nk = row["k"] if conv else 2 if pool else 1
    nkx = (nk + 2) // 2 if pairs and pair_layer(row, lanes) else nk
    taps = (4 if convt else 1) * ngi * nk * nkx
    ngo = 1 if argmax else groups(row["cin0"] if pool else row["cout"], pout)
    out_c = 1 if argmax else row["cin0"] if pool else row["cout"]
    return {"hw_in": hw, "hw_out": hw_out, "taps": taps, "wcount": ngo * taps if conv or convt else 0,
            "words0": groups(row["cin0"], A) * hw, "words1": groups(row["cin1"], A) * hw,
            "words_out": groups(out_c, A) * hw_out}


def tables(ir: IR, lanes=(8, 8), pairs: bool | None = None):
    """The layer table rows and the parameter memories: weight words (n, POUT, PIN) and
    BatchNorm multiplier / bias / shift words (groups, POUT). `pairs`: whether the engine has paired
    convs (default: has_pairs(), as unet_core; the HLS engine has none: False)."""
    pin, pout = check_lanes(lanes)  # the parameter memories: one word of POUT lanes per output group
    steps, base, depth = layout(ir, lanes)
    fused = fused_argmax(ir, steps)
    pairs = has_pairs(ir, lanes) if pairs is None else pairs
    rows, weights, mul, bias, shift = [], [], [], [], []
    wbase = pbase = 0
    for si, s in enumerate(steps):
        lay = s.layers[0]
        c = dict(s.consts)
        row = dict.fromkeys(FIELDS, 0)
        row["op"] = OPCODE[s.kind]
        row["src0"] = base[s.inputs[0]]
        row["src1"] = base[s.inputs[1]] if len(s.inputs) > 1 else 0
        row["dst"] = base[s.output]
        row["wbase"], row["pbase"] = wbase, pbase
        wq = np.zeros((0, pout, pin), np.int64)
        pm = pb = ps = np.zeros((0, pout), np.int64)
        if s.kind == "conv_bn_relu":
            bn = s.layers[1]
            row.update(cin0=c["CIN0"], cin1=c["CIN1"], cout=c["COUT"], h=c["H"], w=c["W"], k=c["K"], pad=c["PAD"],
                       lo=c["LO"], hi=c["HI"])
            row["pair"] = int(pairs and pair_layer(row, lanes))
            words = pair_words if row["pair"] else _conv_words
            wq = words(np.asarray(ir.param(lay, "weight")), c["CIN0"], c["CIN1"], pin, pout)
            pm, pb, ps = (pack_channels(ir.param(bn, n), c["COUT"], pout) for n in ("mul", "bias", "shift"))
            if row["pair"]:  # the second pixel's lanes take the first's parameters
                for arr in (pm, pb, ps):
                    arr[:, pout // 2:] = arr[:, :pout // 2]
        elif s.kind == "conv1x1_bias":
            row.update(cin0=c["CIN"], cout=c["COUT"], h=c["H"], w=c["W"], k=1, pad=0, lo=c["LO"], hi=c["HI"])
            if si == fused:
                if c["COUT"] > 256:
                    raise IRError(f"layer '{s.name}': {c['COUT']} classes; the RTL's class map holds a byte a pixel")
                row["fuse"] = 1
            wq = _conv_words(np.asarray(ir.param(lay, "weight")), c["CIN"], 0, pin, pout)
            pm = pack_channels(1, c["COUT"], pout)
            pb, ps = (pack_channels(ir.param(lay, n), c["COUT"], pout) for n in ("bias", "shift"))
        elif s.kind == "conv_transpose2x2":
            row.update(cin0=c["CIN"], cout=c["COUT"], h=c["H"], w=c["W"], k=2, lo=c["LO"], hi=c["HI"])
            wq = pack_convt(np.asarray(ir.param(lay, "weight")), pin, pout).reshape(-1, pout, pin)
            pm, pb, ps = (pack_channels(v, c["COUT"], pout) for v in (1, 0, ir.param(lay, "shift")))
        elif s.kind == "add_requant":
            row.update(cin0=c["C"], cin1=c["C"], cout=c["C"], h=c["H"], w=c["W"], k=1, pad=0, lo=c["LO"], hi=c["HI"])
            pm, pb, ps = (pack_channels(v, c["C"], pout) for v in (1, 0, ir.param(lay, "shift")))
        elif s.kind == "maxpool2x2":
            row.update(cin0=c["C"], cout=c["C"], h=c["H"], w=c["W"], k=2)
        elif s.kind == "argmax":
            row.update(cin0=c["K"], cout=1, h=c["H"], w=c["W"])
        else:  # pragma: no cover - plan() only makes the kinds above
            raise IRError(f"layer '{s.name}': {s.kind} has no RTL op")
        if not (-128 <= row["lo"] <= row["hi"] <= 255):
            raise IRError(f"layer '{s.name}': output range [{row['lo']}, {row['hi']}] is not 8-bit; the RTL "
                          "stores activations and logits as bytes")
        for arr, bits in ((pm, 32), (pb, 32), (ps, 8)):
            if not fits(arr, bits):
                raise IRError(f"layer '{s.name}': a BatchNorm/requantize parameter does not fit {bits} bits")
        weights.append(wq)
        mul.append(pm)
        bias.append(pb)
        shift.append(ps)
        wbase += len(wq)
        pbase += len(pm)
        row.setdefault("pair", 0)  # (layout.json; not a table field)
        row.update(derived(row, (pin, pout), pairs))
        rows.append(row)
    return (steps, base, depth, rows, np.concatenate(weights), np.concatenate(mul), np.concatenate(bias),
            np.concatenate(shift))


def has_pairs(ir: IR, lanes=(8, 8)) -> bool:
    """Whether the engine generated for this network has paired convs (unet_core's PAIRS): when a
    layer of the network is one (pair_layer), so that an engine without any keeps its one
    activation memory and no pair logic."""
    conv_bn = regmap.OPCODES["conv_bn"]
    return any(pair_layer({"op": conv_bn, "cin0": c["CIN0"], "cin1": c["CIN1"], "cout": c["COUT"]}, lanes)
               for c in (dict(s.consts) for s in plan(ir) if s.kind == "conv_bn_relu"))


def _ltab(rows) -> np.ndarray:
    """The layer table: LTAB_WORDS words a layer, FIELDS first; every field fits 32 bits."""
    t = np.zeros((len(rows), LTAB_WORDS), np.int64)
    for i, r in enumerate(rows):
        for j, f in enumerate(FIELDS):
            if not -(1 << 31) <= r[f] < 1 << 32:
                raise IRError(f"layer table row {i}: {f} = {r[f]} does not fit 32 bits")
            t[i, j] = r[f]
    return t.reshape(-1, 1)


def memories(ir: IR, lanes=(8, 8)) -> dict[str, tuple[int, int]]:
    """unet_core's memories for this IR as {name: (word bits, depth in words)}, as the generated
    Verilog declares them: act, wmem, the BatchNorm parameters pmem and the layer
    table ltab."""
    pin, pout = check_lanes(lanes)
    _, _, depth, rows, weights, mul, _, _ = tables(ir, lanes)
    wbits = max_weight_bits(ir)
    mb, bb = param_bytes(datapath_widths(ir))
    return {"act": (8 * max(pin, pout), depth), "wmem": (8 * -(-wbits * pin * pout // 8), max(1, len(weights))),
            "pmem": (8 * (mb + bb + 1) * pout, max(1, len(mul))), "ltab": (32, LTAB_WORDS * len(rows))}


def param_bytes(dp: dict) -> tuple[int, int]:
    """Bytes of a multiplier and of a bias in a lane of unet_core's parameter memory (pmem): the
    datapath's mul_bits and bias_bits (datapath_widths()) in whole bytes; the shift takes one more."""
    return -(-int(dp["mul_bits"]) // 8), -(-int(dp["bias_bits"]) // 8)


def param_words(mul: np.ndarray, bias: np.ndarray, shift: np.ndarray, dp: dict) -> np.ndarray:
    """pmem's words from tables()' (groups, POUT) multipliers, biases and shifts: (groups, POUT,
    lane bytes), a lane {shift, bias, multiplier} from its low byte up: the multiplier in
    param_bytes()[0] bytes, the bias in [1], the shift in one, each two's complement. A value
    beyond the datapath's widths (which the engine would not see whole) raises IRError."""
    for what, v, bits in (("multiplier", mul, dp["mul_bits"]), ("bias", bias, dp["bias_bits"]), ("shift", shift, 8)):
        if not fits(v, int(bits)):
            raise IRError(f"a BatchNorm {what} in [{v.min()}, {v.max()}] does not fit the datapath's {bits} bits")
    mb, bb = param_bytes(dp)
    fields = [(mul, k) for k in range(mb)] + [(bias, k) for k in range(bb)] + [(shift, 0)]
    return np.stack([(np.asarray(v, np.int64) >> (8 * k)) & 0xFF for v, k in fields], axis=-1)


def _pack(words: np.ndarray, bits: int) -> np.ndarray:
    """Words of lanes (n x lanes...) -> their bytes (n x ceil(lanes*bits/8), uint8): lane k in
    bits [bits*k, bits*(k+1)) of the little-endian word, two's complement."""
    words = np.asarray(words, np.int64)
    lanes = int(np.prod(words.shape[1:])) if words.ndim > 1 else 1
    words = words.reshape(len(words), lanes)
    b = ((words[:, :, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(len(words), lanes * bits)
    pad = -b.shape[1] % 8
    b = np.pad(b, ((0, 0), (0, pad)))
    return np.packbits(b, axis=1, bitorder="little")


def weight_banks(words: int) -> list[int]:
    """The words of each bank of unet_core's weight memory (W_BANK_WORDS each, the last the rest)
    for a memory of `words` words (at least one bank of one word)."""
    words = max(1, words)
    return [min(W_BANK_WORDS, words - b) for b in range(0, words, W_BANK_WORDS)]


def weight_files(words: int) -> list[str]:
    """The .mem files of the weight banks (weight_banks), in bank order."""
    return [f"weights_{b}.mem" for b in range(len(weight_banks(words)))]


def mem_files(ir: IR, lanes=(8, 8)) -> list[str]:
    """The .mem files unet_core $readmemh's for this IR: the weight banks', then PARAM_FILES."""
    return [*weight_files(memories(ir, lanes)["wmem"][1]), *PARAM_FILES]


def mem_macro(name: str) -> str:
    """The Verilog macro that, with UNET_MEM_PATHS defined, gives a .mem file's path to unet_core
    (layers.mem: UNET_MEM_LAYERS; weights_0.mem: UNET_MEM_WEIGHTS_0); without it the file is read
    by its bare name."""
    return "UNET_MEM_" + re.sub(r"[^A-Za-z0-9]", "_", name.removesuffix(".mem")).upper()


def _mem(words: np.ndarray, bits: int) -> str:
    """A .mem file: one hex word a line, lane 0 in the least significant bits (see _pack).
    An empty memory gets one zero word."""
    packed = _pack(words, bits)
    if not len(packed):
        packed = np.zeros((1, packed.shape[1]), np.uint8)
    return "".join(bytes(row[::-1]).hex() + "\n" for row in packed)


def _bits(reg: str, name: str) -> str:
    """Verilog part select of a register field: "[31:16]", or "[0]" for one bit."""
    f = regmap.field(reg, name)
    return f"[{f.lsb}]" if f.width == 1 else f"[{f.msb}:{f.lsb}]"


def _low(sig: str, reg: str, name: str) -> str:
    """The low bits of `sig` that fill the field, e.g. "h[15:0]"."""
    f = regmap.field(reg, name)
    return f"{sig}[0]" if f.width == 1 else f"{sig}[{f.width - 1}:0]"


def _zext(sig: str, reg: str, name: str) -> str:
    """The field of a register word `sig`, zero-extended to 32 bits, e.g. "{16'd0, sl_dim[31:16]}"."""
    f = regmap.field(reg, name)
    return f"{sig}{_bits(reg, name)}" if f.width == regmap.WORD_BITS else \
        f"{{{regmap.WORD_BITS - f.width}'d0, {sig}{_bits(reg, name)}}}"


def _word(reg: str, **exprs: str) -> str:
    """A register word as a Verilog concatenation of one expression a field (as wide as the field),
    the bits between and above the fields zero, e.g. "{31'd0, gie}"."""
    fields = sorted((regmap.field(reg, k) for k in exprs), key=lambda f: -f.lsb)
    parts, top = [], regmap.WORD_BITS
    for f in fields:
        if f.msb + 1 < top:
            parts.append(f"{top - f.msb - 1}'d0")
        parts.append(exprs[f.name])
        top = f.lsb
    if top:
        parts.append(f"{top}'d0")
    return parts[0] if len(parts) == 1 else "{" + ", ".join(parts) + "}"


def _masked(sig: str, reg: str) -> str:
    """`sig` with only the register's writable bits kept ("wdata_q & 32'hF"); `sig` when all are."""
    m = regmap.write_mask(reg)
    return sig if m == (1 << regmap.WORD_BITS) - 1 else f"{sig} & 32'h{m:X}"


def _unused(sig: str, reg: str) -> str:
    """The part selects of `sig` outside the register's writable bits, high first ("mode[31:4]")."""
    m, out, b = regmap.write_mask(reg), [], regmap.WORD_BITS - 1
    while b >= 0:
        if m >> b & 1:
            b -= 1
            continue
        lo = b
        while lo > 0 and not m >> (lo - 1) & 1:
            lo -= 1
        out.append(f"{sig}[{b}]" if lo == b else f"{sig}[{b}:{lo}]")
        b = lo - 1
    return ", ".join(out)


def _fmax(reg: str, name: str) -> str:
    """The largest value of a field as a 32-bit Verilog literal ("32'hFFFF")."""
    return f"32'h{(1 << regmap.field(reg, name).width) - 1:X}"


#: What the Verilog templates take the register facts with (field slices, words, masks).
VERILOG_REGMAP = {"bits": _bits, "low": _low, "zext": _zext, "word": _word, "masked": _masked, "unused": _unused,
                  "fmax": _fmax}


def datapath_widths(ir: IR) -> dict[str, int]:
    """The engine's arithmetic widths for this network, the widest of its layers (the IR's worst
    cases): acc_bits (the accumulators and the BatchNorm multiplier's first operand), mul_bits
    (the multiplier: an 8-bit one takes one DSP48 a lane), bias_bits and prod_bits (acc x mul +
    bias, at most HW_BN_BITS). The steps without a BatchNorm pass through the same multiply-add
    (x 1, + their bias or 0): their accumulator bound covers them. Pooling and argmax carry
    codes and class indices (< 2^9), hence the floor of 10 bits."""
    acc = prod = 10
    mul, bias = 2, 2
    for s in plan(ir):
        acc = max(acc, s.acc_bits)
        if s.kind == "conv_bn_relu":
            bn = s.layers[1].attrs
            mul = max(mul, int(bn["mul_bits"]))
            bias = max(bias, int(bn["bias_bits"]))
            prod = max(prod, s.prod_bits)
        else:
            prod = max(prod, s.acc_bits)
            if s.kind == "conv1x1_bias":
                bias = max(bias, s.acc_bits)  # its bias is counted in its accumulator bound
    # the parameter memories hold 32-bit lanes (tables() refuses wider values), and a bias fits
    # the product bound it is part of
    return {"acc_bits": acc, "mul_bits": min(mul, 32), "bias_bits": min(bias, 32, prod), "prod_bits": prod}


def check_datapath(ir: IR, widths: dict) -> None:
    """Refuse a network (e.g. one whose parameters are to be loaded at run time) that needs a
    wider datapath than `widths`, the widths the RTL was generated with (layout.json's "datapath")."""
    need = datapath_widths(ir)
    over = [f"{k} {need[k]} > {widths[k]}" for k in need if need[k] > int(widths[k])]
    if over:
        raise IRError(f"{ir.name}: needs a wider datapath than the generated RTL's ({', '.join(over)})")


def weight_parts(lanes, wbits: int) -> int:
    """32-bit load writes a packed weight word takes."""
    pin, pout = check_lanes(lanes)
    word_bytes = -(-pin * pout * wbits // 8)
    return -(-word_bytes // 4)


def part_bits(parts: int) -> int:
    """Bits of the part counter of the load path (counting 0 .. parts - 1; at least 1): the
    Verilog sizes it, and WEIGHT_PARTS one bit wider, from the value (256 parts at 32x32 lanes
    of 8-bit weights)."""
    return max(1, (parts - 1).bit_length())


def load_words(ir: IR, lanes=(8, 8), wbits: int | None = None, datapath: dict | None = None) -> dict[str, np.ndarray]:
    """What the run-time load path (WLOAD_ADDR / WLOAD_DATA) writes for this IR: per region,
    the 32-bit data words from index 0. Weights: each packed weight word as weight_parts()
    little-endian 32-bit parts, low part first; the other regions one two's-complement 32-bit
    word an entry (the RTL refuses a shift outside [-MAX_SHIFT, MAX_SHIFT], a multiplier or a bias
    beyond the datapath's mul_bits / bias_bits, the bits its parameter memory keeps). wbits: the weight
    width the RTL was generated with (default: this network's); weights that do not fit it are
    refused. datapath: the RTL's arithmetic widths (layout.json's "datapath"); a network that
    needs wider ones is refused."""
    _, _, _, _, weights, mul, bias, shift = tables(ir, lanes)
    wbits = wbits or max_weight_bits(ir)
    _check_weights_fit(weights, wbits, ir.name)
    if datapath is not None:
        check_datapath(ir, datapath)
    packed = _pack(weights, wbits)
    parts = weight_parts(lanes, wbits)
    packed = np.pad(packed, ((0, 0), (0, 4 * parts - packed.shape[1])))
    return {"weights": np.ascontiguousarray(packed).view("<u4").reshape(-1).copy(),
            "bn_mul": (mul.reshape(-1) & 0xFFFFFFFF).astype(np.uint32),
            "bn_bias": (bias.reshape(-1) & 0xFFFFFFFF).astype(np.uint32),
            "shift": (shift.reshape(-1) & 0xFFFFFFFF).astype(np.uint32)}


def _check_weights_fit(weights: np.ndarray, wbits: int, what: str) -> None:
    if not fits(weights, wbits):
        raise IRError(f"{what}: weights in [{weights.min()}, {weights.max()}] do not fit the "
                      f"{wbits}-bit weight memory")


def check_bus_errors(bus_errors: str) -> str:
    """The AXI-Lite slave's answer to a refused access (regmap.BUS_ERRORS), else BusErrorsError
    naming --bus-errors."""
    if bus_errors not in regmap.BUS_ERRORS:
        raise BusErrorsError(f"--bus-errors {bus_errors!r}: choose {' or '.join(regmap.BUS_ERRORS)}")
    return bus_errors


def emit_rtl(ir: IR, lanes=(8, 8), ir_file: str = "model.json", mult: str = "dsp",
             part: str = BOARD_PART, bus_errors: str = "okay") -> dict[str, str]:
    """BUILD/rtl's files, {path relative to the folder: text}: SystemVerilog sources, the IP top
    (ip.IP_TOP_FILE), .mem files, layout.json, the C register header and vivado.tcl (a Vivado project of the
    sources and .mem files for `part`). mult: the multiplier style (MULTS; check_mult refuses one
    that is not exact here); bus_errors: what a refused AXI-Lite access answers (regmap.BUS_ERRORS)."""
    check_bus_errors(bus_errors)
    pin, pout = check_lanes(lanes)
    wbits = max_weight_bits(ir)
    check_mult(mult, (pin, pout), wbits)
    steps, base, depth, rows, weights, mul, bias, shift = tables(ir, lanes)
    _check_weights_fit(weights, wbits, ir.name)
    parts = weight_parts(lanes, wbits)
    dp = datapath_widths(ir)
    in_c, in_h, in_w = ir.tensors[ir.input].shape
    E = regmap.ERRORS
    ctx = {**VERILOG_REGMAP,
        "banner": f"Generated by unetaccel from the IR '{ir.name}' ({ir_file}). Do not edit.",
        "pin": pin, "pout": pout, "pin_log2": pin.bit_length() - 1, "pout_log2": pout.bit_length() - 1,
        "wbits": wbits, "dsp2": mult == "dsp2", "pairs": any(r["pair"] for r in rows), "weight_parts": parts, "dp": dp, "part_bits": part_bits(parts), "max_shift": MAX_SHIFT,
        "act_depth": depth, "w_depth": max(1, len(weights)), "p_depth": max(1, len(mul)),
        "wbank_words": W_BANK_WORDS, "wbanks": [{"words": n, "file": f} for n, f in
                                                zip(weight_banks(len(weights)), weight_files(len(weights)))],
        "mem_attr": {k: f'(* ram_style = "{v}" *) ' for k, v in MEM_STYLES.items()}, "pmem_file": PARAM_FILES[0],
        "pmem_bytes": param_bytes(dp),
        "derived_fields": DERIVED_FIELDS,
        "num_layers": len(steps), "in_c": in_c, "in_h": in_h, "in_w": in_w, "num_classes": ir.num_classes,
        "in_base": base[ir.input], "logit_base": base[ir.logits], "class_base": base[ir.classes],
        "opcodes": regmap.OPCODES, "errors": E,
        "constants": [c for c in regmap.constants() if c[0].startswith("UNET_REG_")
                      or c[0] in ("UNET_ID_VALUE", "UNET_VERSION_VALUE")],
        "build_config": regmap.pack("CONFIG", pin=pin, pout=pout, weight_bits=wbits),
        "fields": regmap.fields(), "wload": regmap.WLOAD_REGIONS, "err_none": E["none"],
        "addr_msb": regmap.ADDR_BITS - 1, "reset": {r.name: regmap.reset_value(r.name) for r in regmap.REGISTERS},
        "registers": regmap.REGISTERS, "writable": regmap.writable(),
        "ltab_words": LTAB_WORDS, "ltab": {f: i for i, f in enumerate(FIELDS)},
        "part": part,  # vivado.tcl's part (default the PYNQ-Z2's); `-tclargs PART` replaces it
        "design_sources": DESIGN_SOURCES, "sim_sources": SIM_SOURCES,
        "slverr": bus_errors == "slverr", "clock_hz": ip.CLOCK_HZ, "status_mask": regmap.write_mask("STATUS"),
        "mem_files": [*weight_files(len(weights)), *PARAM_FILES],
        "mem_macro": {f: mem_macro(f) for f in [*weight_files(len(weights)), *PARAM_FILES]},
    }
    ctx["regmap_h"] = regmap.c_header(ctx["banner"])
    files = {name: render(f"rtl_project/{name}.j2", ctx) for name in TEMPLATES}
    files["package_ip.tcl"] = render("rtl_project/package_ip.tcl.j2", {**ctx, "ip": ip.ip_identity()})
    mems = dict(zip(PARAM_FILES, (_mem(param_words(mul, bias, shift, dp), 8), _mem(_ltab(rows), 32))))
    starts = np.cumsum([0, *weight_banks(len(weights))])
    mems.update({f: _mem(weights[a:b], wbits) for f, a, b in zip(weight_files(len(weights)), starts, starts[1:])})
    files.update({
        **mems,
        "layout.json": json.dumps({"ir": ir_file, "lanes": [pin, pout], "word_lanes": max(pin, pout),
                                   "bus_errors": bus_errors,
                                   "weight_bits": wbits, "weight_parts": parts, "datapath": dp,
                                   "weight_words": len(weights), "weight_files": weight_files(len(weights)),
                                   "pairs": any(r["pair"] for r in rows),
                                   "steps": [s.name for s in steps],
                                   "outputs": [s.output for s in steps],
                                   "act_depth_words": depth, "word_bases": base, "fields": list(FIELDS),
                                   "layers": rows}, indent=1) + "\n",
    })
    return files


def generate_rtl(ir: IR, out_dir, lanes=(8, 8), ir_file: str = "model.json", mult: str = "dsp",
                 part: str = BOARD_PART, bus_errors: str = "okay") -> list[Path]:
    """Write BUILD/rtl (rewriting only the files whose text changed) and its stamp (what it was
    made from: `unetaccel rtlsim` reads it); returns the Verilog, .mem and layout.json files."""
    pin, pout = check_lanes(lanes)
    files = emit_rtl(ir, (pin, pout), ir_file, mult, part, bus_errors)
    with locked(out_dir):
        # weight banks of an earlier generation that this one does not have (a smaller network)
        for stale in set(Path(out_dir).glob("weights*.mem")) - {Path(out_dir) / f for f in files}:
            stale.unlink()
        written = write_files(out_dir, files)
        write_stamp(out_dir, generation_record(ir, ir_file=ir_file, lanes=[pin, pout], mult=mult,
                                               bus_errors=bus_errors))
    return written
