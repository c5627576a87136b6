"""IR -> a self-contained C/HLS project (BUILD/hls).

The HLS top is the RTL's engine in C++ (unet_engine.h): one PIN x POUT multiply-accumulate array
walking a generated layer table with run-time layer parameters, over one activation memory laid
out as the RTL's (rtl_project.layout), the weights packed at their exact width into one ROM of
32-bit words, the argmax fused into the logits conv. The generator emits what is
network-specific: the layer table, the ROMs, the sizes and widths, the trace table of the
testbench, and the register header of this core (unet_hls_regmap.h: Vitis' block control, the
ports' offsets). Deterministic output.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..ir.graph import IR, IRError
from . import hls_model, regmap
from .layout import BOARD_PART, check_lanes, fused_argmax, groups, max_weight_bits, plan
from .cache import generation_record, locked, write_stamp
from .render import render
from .rtl_project import _pack, datapath_widths, tables
from .writer import write_files

TEMPLATES = ("unet_types.h", "unet_engine.h", "unet_config.h", "unet_weights.h", "unet_weights.cpp",
             "unet_top.h", "unet_top.cpp", "unet_hls_regmap.h", "tb_unet.cpp", "run_hls.tcl", "README.md")
DEFAULT_PART = BOARD_PART
DEFAULT_LANES = (8, 8)
DEFAULT_CLOCK_NS = 10.0
SHIFT_BITS = 7  # unet_types.h: requantization shifts are within +-40 (the IR checks it)

#: Vitis HLS' block control (ap_ctrl_hs on an s_axilite bundle; UG1399, "S_AXILITE Control Register
#: Map"): the registers at 0x00-0x0C and their bits, as the core Vitis generates has them.
VITIS_CONTROL = (
    ("CTRL", 0x00, (("AP_START", 0, "write 1 to start (self-clearing)"), ("AP_DONE", 1, "clear on read"),
                    ("AP_IDLE", 2, ""), ("AP_READY", 3, "ready for the next start"),
                    ("AUTO_RESTART", 7, "leave 0"))),
    ("GIE", 0x04, (("ENABLE", 0, "global interrupt enable"),)),
    ("IER", 0x08, (("DONE", 0, "ap_done interrupt enable"), ("READY", 1, "ap_ready interrupt enable"))),
    ("ISR", 0x0C, (("DONE", 0, "ap_done interrupt status (toggle on write)"),
                   ("READY", 1, "ap_ready interrupt status (toggle on write)"))),
)
#: Vitis reserves 0x00 through 0x18 for the block control, the interrupts, the mailbox and the
#: counted auto-restart (UG1399): the ports start above it.
VITIS_RESERVED_END = 0x1C
#: The HLS core's ports on the s_axilite bundle: (name, offset, 32-bit data words, direction,
#: the register map's registers of each word, meaning). Every output is ap_vld: Vitis adds a
#: control word after its data (bit 0 = ap_vld, clear on read); an input's next word is reserved.
HLS_PORTS = (
    ("kernel", 0x020, 1, "out", ("KERNEL",), "the current layer step's kernel size / padding"),
    ("dim", 0x028, 1, "out", ("DIM",), "the current layer step's input height / width"),
    ("channels", 0x030, 1, "out", ("CHANNELS",), "the current layer step's in / out channels"),
    ("mode", 0x040, 1, "in", ("MODE",), "[0] single layer (not implemented: rejected), [1] logits instead of the class map"),
    ("layers", 0x060, 2, "out", ("LAYER", "NUM_LAYERS"), "word 0: the current layer step; word 1: the number of steps"),
    ("error", 0x080, 1, "out", ("ERROR",), "0, or why the last start was rejected or aborted"),
    ("ident", 0x0F0, 3, "out", ("ID", "VERSION", "CONFIG"), 'ID "UNET", version, build config (PIN, POUT, weight bits)'),
)


def hls_ports() -> list[dict]:
    """HLS_PORTS as dicts with the offset of each port's control word; raises RuntimeError when two
    ports' words overlap or one lies in Vitis' reserved range."""
    out: list[dict] = []
    used: dict[int, str] = {}
    for name, off, words, d, regs, doc in HLS_PORTS:
        ctrl = off + 4 * words
        span = range(off, ctrl + 4)
        if off < VITIS_RESERVED_END:  # pragma: no cover - guards the table above
            raise RuntimeError(f"HLS port {name} at 0x{off:03X}: inside Vitis' reserved 0x00-0x18")
        for a in span[::4]:
            if a in used:  # pragma: no cover
                raise RuntimeError(f"HLS ports {used[a]} and {name} overlap at 0x{a:03X}")
            used[a] = name
        out.append({"name": name, "offset": off, "words": words, "dir": d, "regs": regs, "doc": doc,
                    "ctrl": ctrl})
    return out


def hls_regmap_header(banner: str) -> str:
    """unet_hls_regmap.h: the register map of the HLS core, as Vitis builds it (block control bits
    of Vitis, not of the RTL: bit 3 is ap_ready, ap_done clears on read; the ports' offsets and
    their ap_vld words), with the field shifts and masks of the register map's words."""
    lines = [f"// {banner}",
             "// The AXI-Lite register map of the HLS core (unet_top, ap_ctrl_hs on the s_axilite bundle",
             "// 'control'), as Vitis HLS generates it: the block control registers are Vitis' (CTRL bit 3",
             "// is ap_ready; ap_done clears when CTRL is read; the ISR toggles on write), not the RTL's",
             "// (whose header is BUILD/rtl/unet_regmap.h). Each read-back port is ap_vld: its data words,",
             "// then a control word whose bit 0 is set by a new value and cleared by reading it.",
             "// Counted auto-restart and the mailbox (0x10-0x18) must stay off.",
             "#ifndef UNET_HLS_REGMAP_H", "#define UNET_HLS_REGMAP_H", ""]

    def define(name, value, doc=""):
        lines.append(f"#define {name:<40s} 0x{value:08X}u" + (f"  /* {doc} */" if doc else ""))
    for reg, off, bits in VITIS_CONTROL:
        define(f"UNET_HLS_REG_{reg}", off, "Vitis block control")
        for b, lsb, doc in bits:
            define(f"UNET_HLS_{reg}_{b}_MASK", 1 << lsb, doc)
    for p in hls_ports():
        define(f"UNET_HLS_REG_{p['name'].upper()}", p["offset"], p["doc"])
        if p["dir"] == "out":
            define(f"UNET_HLS_REG_{p['name'].upper()}_CTRL", p["ctrl"], "bit 0: ap_vld (clear on read)")
        for k, reg in enumerate(p["regs"]):
            r = regmap.by_name(reg)
            if len(p["regs"]) > 1:
                define(f"UNET_HLS_REG_{reg}", p["offset"] + 4 * k, r.doc)
            for f in r.fields:
                define(f"UNET_HLS_{reg}_{f.name.upper()}_SHIFT", f.lsb)
                define(f"UNET_HLS_{reg}_{f.name.upper()}_MASK", f.mask)
    for err, code in regmap.ERRORS.items():
        define(f"UNET_HLS_ERR_{err.upper()}", code, "error code")
    define("UNET_HLS_ID_VALUE", regmap.ID_VALUE, '"UNET"')
    define("UNET_HLS_VERSION_VALUE", regmap.VERSION_VALUE)
    return "\n".join(lines) + "\n\n#endif\n"


#: The layer table's fields (unet_config.h: layer_t), in order.
LTAB_FIELDS = ("op", "h", "w", "nk", "pad", "nkx", "pair", "ng0", "ngi", "nog", "nph", "cout", "src0", "src1", "dst", "wbase",
               "pbase", "lo", "hi", "fuse", "hw", "hw_out", "krow0", "ostep", "orow", "w2", "ow", "wcount", "items",
               "iters", "reg_dim", "reg_kernel", "reg_channels")


def step_regs(s) -> tuple[int, int, int, int]:
    """A step as the KERNEL and CHANNELS registers show it: (kernel size, padding, in, out channels)."""
    c = dict(s.consts)
    return {"conv_bn_relu": lambda: (c["K"], c["PAD"], c["CIN0"] + c["CIN1"], c["COUT"]),
            "conv1x1_bias": lambda: (1, 0, c["CIN"], c["COUT"]),
            "conv_transpose2x2": lambda: (2, 0, c["CIN"], c["COUT"]),
            "add_requant": lambda: (1, 0, c["C"], c["C"]),
            "maxpool2x2": lambda: (2, 0, c["C"], c["C"]),
            "argmax": lambda: (1, 0, c["K"], 1)}[s.kind]()


def engine_row(r: dict, lanes, regs: tuple[int, int, int, int]) -> dict:
    """One row of the engine's layer table (LTAB_FIELDS) from an RTL table row (rtl_project.tables:
    op, cin0, cin1, cout, h, w, k, pad, src0, src1, dst, wbase, pbase, lo, hi, fuse, pair) and the
    step as the registers show it (step_regs): the loops' counts and every product they take."""
    pin, pout = check_lanes(lanes)
    A = max(pin, pout)
    ops = regmap.OPCODES
    op, h, w, pair = r["op"], r["h"], r["w"], int(r.get("pair", 0))
    conv, convt = op in (ops["conv_bn"], ops["conv_bias"]), op == ops["conv_transpose"]
    row = {f: r[f] for f in ("op", "h", "w", "pad", "cout", "src0", "src1", "dst", "wbase", "pbase", "lo", "hi", "fuse")}
    row.update(pair=pair, hw=h * w, hw_out=4 * h * w if convt else h * w // 4 if op == ops["maxpool"] else h * w,
               krow0=-r["pad"] * w, ostep=2 if convt or pair else 1, orow=2 * w if convt else 0, w2=2 * w, ow=w // 2)
    row["nk"] = r["k"] if op == ops["conv_bn"] else 1
    row["nkx"] = (row["nk"] + 2) // 2 if pair else row["nk"]
    row["ng0"] = groups(r["cin0"], pin)
    row["ngi"] = row["ng0"] + (groups(r["cin1"], pin) if conv else 0)
    row["nph"] = 4 if convt else 1
    if op == ops["maxpool"]:
        row["nog"] = groups(r["cin0"], A)
        row["items"] = row["nog"] * (h // 2) * (w // 2)
        row["iters"] = 4 * row["items"]
    elif op == ops["add"]:
        row["nog"] = groups(r["cout"], pout)
        row["items"] = row["nog"] * h * w
        row["iters"] = 2 * row["items"]
    elif op == ops["argmax"]:
        row["nog"], row["items"], row["iters"] = 1, 0, 0
    else:
        row["nog"] = groups(r["cout"], pout)
        row["items"] = h * (-(-w // 2) if pair else w)
    row["wcount"] = row["nog"] * row["nph"] * row["ngi"] * row["nk"] * row["nkx"] if conv or convt else 0
    if conv or convt:
        row["iters"] = row["items"] * row["wcount"]
    k, pad, cin, cout = regs
    row["reg_dim"] = regmap.pack("DIM", height=h, width=w)
    row["reg_kernel"] = regmap.pack("KERNEL", kernel_size=k, padding=pad)
    row["reg_channels"] = regmap.pack("CHANNELS", in_channels=cin, out_channels=cout)
    return row


def engine_rows(ir: IR, lanes=DEFAULT_LANES):
    """The HLS engine's layer table and ROMs: (steps, word bases, activation depth, rows (dicts of
    LTAB_FIELDS plus "kind" and "name"), weight words (n, POUT, PIN), multipliers, biases, shifts
    (groups, POUT)). The RTL's tables (rtl_project.tables, paired convs included), each row
    completed with the products the engine's loops take (engine_row)."""
    steps, base, depth, rtl_rows, weights, mul, bias, shift = tables(ir, lanes)
    rows = []
    for s, r in zip(steps, rtl_rows):
        row = {"kind": s.kind, "name": s.name, **engine_row(r, lanes, step_regs(s))}
        if row["wcount"] != r["wcount"]:  # pragma: no cover - the RTL's weight count is the same walk
            raise RuntimeError(f"layer '{s.name}': {row['wcount']} weight words a pixel, the RTL has {r['wcount']}")
        rows.append(row)
    return steps, base, depth, rows, weights, mul, bias, shift


def _body(a: np.ndarray, fmt=str) -> str:
    return "\n".join("    {" + ",".join(fmt(x) for x in row) + "}," for row in np.asarray(a).tolist())


def weight_word_bits(word_bits: int) -> int:
    """The native word (8, 16 or 32 bits) the weight ROM packs a weight word of `word_bits` bits
    into: the one that pads it least (the ROM's width is WW x this), the larger on a tie."""
    return min((32, 16, 8), key=lambda w: (-(-word_bits // w) * w, -w))


def weight_words(word_bits: int) -> tuple[int, int]:
    """(WWORD_BITS, WW): the native word a weight word of `word_bits` bits is packed into and how many."""
    wbits = weight_word_bits(word_bits)
    return wbits, -(-word_bits // wbits)


def weight_rom(weights: np.ndarray, bits: int) -> np.ndarray:
    """Weight words (n, POUT, PIN) -> WROM (n, WW) of weight_word_bits() native words: lane
    po * PIN + pi at bits [lane * bits, (lane + 1) * bits) of the little-endian word, two's complement."""
    n = len(weights)
    lanes = int(np.prod(weights.shape[1:]))
    wbits, ww = weight_words(lanes * bits)
    packed = _pack(weights.reshape(n, lanes), bits)  # (n, bytes), lane 0 in the low bits
    packed = np.pad(packed, ((0, 0), (0, ww * wbits // 8 - packed.shape[1])))
    return np.ascontiguousarray(packed).view(f"<u{wbits // 8}").reshape(n, ww).astype(np.int64)


def emit_hls(ir: IR, lanes=DEFAULT_LANES, part: str = DEFAULT_PART, clock_ns: float = DEFAULT_CLOCK_NS,
             ir_file: str = "model.json") -> dict[str, str]:
    """The HLS project's files, {path relative to the project folder: text}."""
    pin, pout = check_lanes(lanes)
    A = max(pin, pout)
    T = ir.tensors
    steps0 = plan(ir)
    for s in steps0:  # the engine's storage: bytes (uint8 activation codes, int8 logits)
        for t in (*s.inputs, s.output):
            ty = T[t].type
            if t != ir.classes and (ty.bits != 8 or ty.signed != (t == ir.logits)):
                raise IRError(f"tensor '{t}': the HLS generator takes 8-bit unsigned activations and 8-bit signed "
                              f"logits, not {ty.bits}-bit {'signed' if ty.signed else 'unsigned'}")
    for s in steps0:
        lay = s.layers[0]
        for bits, what in ((s.acc_bits, "accumulator"), (s.prod_bits, "BatchNorm product")):
            if bits > 62:
                raise IRError(f"layer '{lay.name}': a {bits}-bit {what} is wider than the C engine takes (62)")
    head = fused_argmax(ir, steps0)
    if head is None or head != len(steps0) - 2:
        raise IRError("HLS generator: the network must end with the logits conv followed by argmax")
    in_c, in_h, in_w = T[ir.input].shape
    if tuple(T[ir.logits].shape) != (ir.num_classes, in_h, in_w):
        raise IRError(f"HLS generator: the logits must have the input's size {in_h}x{in_w}")
    engine = engine_rows(ir, lanes)
    steps, base, depth, rows, weights, mul, bias, shift = engine
    wb = max_weight_bits(ir)
    dp = datapath_widths(ir)
    wrom = weight_rom(weights, wb)
    wword_bits, ww = weight_words(pin * pout * wb)
    if not len(wrom):
        wrom = np.zeros((1, ww), np.int64)
    if not len(mul):
        mul = bias = shift = np.zeros((1, pout), np.int64)
    for arr, bits, what in ((mul, 32, "multiplier"), (bias, 32, "bias"), (shift, SHIFT_BITS, "shift")):
        if arr.min() < -(1 << (bits - 1)) or arr.max() >= 1 << (bits - 1):
            raise IRError(f"a BatchNorm {what} in [{arr.min()}, {arr.max()}] does not fit the HLS engine's {bits} bits")

    # the trace table: the input, then every step's tensors (conv + BatchNorm: accumulator and output)
    trace_table = [{"name": ir.input, "kind": "input", "c": in_c, "h": in_h, "w": in_w, "index": 0}]
    acc_trace = 1
    for row in rows:
        row["traces"] = []
    for s, row in zip(steps, rows):
        def add(tensor, kind, at, row=row):
            c, h, w = T[tensor].shape
            trace_table.append({"name": tensor, "kind": kind, "c": c, "h": h, "w": w, "index": len(trace_table),
                                "base": at})
            row["traces"].append(trace_table[-1])
        if s.kind == "conv_bn_relu":
            add(s.layers[0].output, "acc", 0)
            acc_trace = max(acc_trace, int(np.prod(T[s.layers[0].output].shape)))
            add(s.output, "act", base[s.output])
        elif s.kind == "argmax":  # fused into the logits conv: traced after it (class-map mode)
            add(s.output, "classes", base[ir.logits], rows[head])
        elif s.kind == "conv1x1_bias":
            add(s.output, "logits", base[s.output])
        else:
            add(s.output, "act", base[s.output])
    for r in rows:
        r["cells"] = [str(int(r[f])) + ("u" if f.startswith("reg_") else "") for f in LTAB_FIELDS]
        r["doc"] = f"{r['kind']} '{r['name']}'"
    ports = hls_ports()
    config_word = regmap.pack("CONFIG", pin=pin, pout=pout, weight_bits=wb)
    head_row = rows[head]
    ctx = {
        "banner": f"Generated by unetaccel from the IR '{ir.name}'. Do not edit.",
        "name": ir.name, "ir_file": ir_file, "ir_layers": len(ir.layers),
        "in_c": in_c, "in_h": in_h, "in_w": in_w, "num_classes": ir.num_classes,
        "pin": pin, "pout": pout, "a": A, "log2a": A.bit_length() - 1, "weight_bits": wb, "ww": ww,
        "part": part, "clock_ns": clock_ns, "rows": rows, "run_layers": len(rows) - 1, "head": head,
        "act_words": max(1, depth), "in_base": base[ir.input], "class_base": base[ir.logits],
        "logits_base": base[ir.logits], "w_words": len(wrom), "p_words": len(mul), "dp": dp,
        "acc_trace_size": acc_trace, "out_trace_size": int(np.prod(T[ir.logits].shape)),
        "max_iters": max(r["iters"] for r in rows), "opcodes": regmap.OPCODES,
        "wrom_body": _body(wrom, lambda v: f"0x{v:0{wword_bits // 4}X}u"), "wword_bits": wword_bits, "pmul_body": _body(mul), "pbias_body": _body(bias),
        "pshift_body": _body(shift), "ltab_fields": LTAB_FIELDS, "trace_table": trace_table,
        "ports": ports, "config_word": config_word, "err_bad_mode": regmap.ERRORS["bad_mode"],
        "err_bad_size": regmap.ERRORS["bad_size"], "fields": regmap.fields(),
        "last_regs": {"dim": head_row["reg_dim"], "kernel": head_row["reg_kernel"],
                      "channels": head_row["reg_channels"], "config": config_word},
        "vitis_control": VITIS_CONTROL,
    }
    from .ip import HLS_LIBRARY, HLS_NAME, VENDOR, ip_version, vlnv  # export_design's VLNV
    ctx["hls_ip"] = {"vendor": VENDOR, "library": HLS_LIBRARY, "name": HLS_NAME, "version": ip_version()}
    ctx["hls_vlnv"] = vlnv(hls=True)
    ctx["hls_regmap_h"] = hls_regmap_header(ctx["banner"])
    ctx["dim_offset"] = next(p["offset"] for p in ports if p["name"] == "dim")
    ctx["estimate_md"] = hls_model.markdown(hls_model.estimate(ir, lanes, engine), clock_ns)
    files = {name: render(f"hls_project/{name}.j2", ctx) for name in TEMPLATES}
    files["trace.json"] = json.dumps({"ir": ir_file, "tensors": [t["name"] for t in trace_table]}, indent=1) + "\n"
    return files


def generate_hls(ir: IR, out_dir, lanes=DEFAULT_LANES, part: str = DEFAULT_PART, clock_ns: float = DEFAULT_CLOCK_NS,
                 ir_file: str = "model.json") -> list[Path]:
    """Write the HLS project into out_dir (BUILD/hls), rewriting only the files whose text changed,
    and its stamp (what it was made from: `unetaccel csim` reads it); returns the project's files."""
    files = emit_hls(ir, lanes, part, clock_ns, ir_file)
    with locked(out_dir):
        written = write_files(out_dir, files)
        write_stamp(out_dir, generation_record(ir, ir_file=ir_file, lanes=[int(v) for v in lanes], part=part,
                                               clock_ns=clock_ns))
    return written


def trace_order(out_dir) -> list[str]:
    """IR tensor names in the order the testbench expects them in ref_<i>.bin."""
    return json.loads((Path(out_dir) / "trace.json").read_text())["tensors"]
