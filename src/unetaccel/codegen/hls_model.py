"""What Vitis HLS would build from the generated HLS project: an estimate, not a synthesis result.

Cycles come from the generated loops' structure: the layer table's trip count of each layer's one
pipelined loop (hls_project.engine_rows: the same `iters` the C walks), II = 1 (each loop does one
read and one write of every activation memory and one ROM read a cycle, DEPENDENCE false on the
activation memory: a step's output never overlaps its inputs, layout.place), plus per loop entry
its pipeline depth (fill and drain) and a fixed set-up (the table row, the status writes, loop
entry and exit): PIPELINE_DEPTH and LAYER_SETUP below, stated, not measured. Memory is counted
in block RAM by the rule Vitis and Vivado use: an array of width W and depth D takes, for the
best RAMB18 aspect (w, d) of its port type, ceil(W / w) x ceil(D / d) RAMB18, two to a RAMB36;
the LUT ROMs (BIND_STORAGE impl=lutram) take ceil(D / 64) LUTs a bit. Multipliers are the
products of the unrolled loops. No Vitis run has confirmed any of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.graph import IR
from . import regmap
from .layout import check_lanes
from .rtl_project import datapath_widths

#: RAMB18E1 aspects (depth, width): a simple dual-port RAM (ram_s2p: one read, one write port)
#: reaches 36 bits; a ROM on one port 18.
RAMB18_RAM = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))
RAMB18_ROM = RAMB18_RAM[:-1]
#: LUT-ROM depth a LUT6 covers (one bit of 64 words).
LUT_ROM_DEPTH = 64
#: Fixed cycles per layer step: the LUT ROM row, the ap_vld status writes, the loop's entry and exit.
LAYER_SETUP = 6


def pipeline_depth(loop: str, pin: int) -> int:
    """Cycles from a loop's first issue to its last write (fill + drain), by stage:
    MAC: address 2, activation and weight reads 2 (registered BRAM outputs), multiply 3, the
    PIN-input adder tree log2(PIN) + 1 with the accumulator, acc x mul + bias 3, requantize
    (shift, round, clamp) 3, write 1. POOL: address 2, read 2, max 1, write 1. ADD: address 2,
    read 2, add 1, requantize 3, write 1. Stream loops: 4."""
    log2 = max(0, int(pin).bit_length() - 1)
    return {"MAC": 2 + 2 + 3 + log2 + 1 + 3 + 3 + 1, "POOL": 6, "ADD": 9, "IMG_IN": 4, "CLASSES_OUT": 4}[loop]


def ramb18(width: int, depth: int, rom: bool) -> int:
    """RAMB18s of a width x depth block RAM array, the best aspect of its port type."""
    if width <= 0 or depth <= 0:
        return 0
    return min(-(-width // w) * -(-depth // d) for d, w in (RAMB18_ROM if rom else RAMB18_RAM))


@dataclass
class Loop:
    layer: str
    kind: str
    loop: str
    trips: int
    ii: int
    depth: int
    setup: int

    @property
    def cycles(self) -> int:
        return self.trips * self.ii + self.depth + self.setup


@dataclass
class Memory:
    name: str
    width: int       # bits a word
    depth: int       # words
    count: int       # identical arrays (a partitioned dimension)
    impl: str        # "bram" or "lutram"
    rom: bool
    doc: str = ""

    @property
    def ramb18(self) -> int:
        return self.count * ramb18(self.width, self.depth, self.rom) if self.impl == "bram" else 0

    @property
    def luts(self) -> int:
        return self.count * self.width * -(-self.depth // LUT_ROM_DEPTH) if self.impl == "lutram" else 0


@dataclass
class Estimate:
    lanes: tuple[int, int]
    loops: list[Loop] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)
    multipliers: dict = field(default_factory=dict)  # where -> (count, operand widths)

    @property
    def cycles(self) -> int:
        return sum(lp.cycles for lp in self.loops)

    @property
    def ramb36(self) -> float:
        return sum(m.ramb18 for m in self.memories) / 2

    @property
    def lutram_luts(self) -> int:
        return sum(m.luts for m in self.memories)

    @property
    def multiplier_count(self) -> int:
        return sum(n for n, _ in self.multipliers.values())


def estimate(ir: IR, lanes=(8, 8), engine=None) -> Estimate:
    """The model of the HLS project `generate` writes for this IR and these lanes (class-map mode);
    `engine`: hls_project.engine_rows(ir, lanes) when the caller has it already."""
    from .hls_project import LTAB_FIELDS, engine_rows, weight_words  # (hls_project renders this model)
    from .layout import max_weight_bits
    pin, pout = check_lanes(lanes)
    A = max(pin, pout)
    ops = regmap.OPCODES
    steps, base, depth, rows, weights, mul, _, _ = engine if engine is not None else engine_rows(ir, lanes)
    est = Estimate((pin, pout))
    in_c, in_h, in_w = ir.tensors[ir.input].shape
    est.loops.append(Loop("stream in", "image", "IMG_IN", in_c * in_h * in_w, 1, pipeline_depth("IMG_IN", pin), 0))
    for r in rows[:-1]:  # the argmax step is fused into the logits conv
        loop = "POOL" if r["op"] == ops["maxpool"] else "ADD" if r["op"] == ops["add"] else "MAC"
        name = r["name"] + ("+argmax" if r["fuse"] else "")
        est.loops.append(Loop(name, r["kind"], loop, r["iters"], 1, pipeline_depth(loop, pin), LAYER_SETUP))
    hw = in_h * in_w
    est.loops.append(Loop("stream out", "class map", "CLASSES_OUT", -(-hw // min(A, 4)), 1,
                          pipeline_depth("CLASSES_OUT", pin), 0))
    wb = max_weight_bits(ir)
    dp = datapath_widths(ir)
    wword, ww = weight_words(pin * pout * wb)
    est.memories = [
        Memory("amem0", 8, (max(1, depth) + 1) // 2, A, "bram", False,
               f"activations, even words: {A} byte-wide memories (a word's lanes)"),
        Memory("amem1", 8, max(1, depth // 2), A, "bram", False, f"activations, odd words: {A} byte-wide memories"),
        Memory("WROM", wword * ww, max(1, len(weights)), 1, "bram", True,
               f"weights: one row of {pin}x{pout} packed {wb}-bit weights ({ww} x {wword} bits)"),
        Memory("PMUL", 32, max(1, len(mul)), pout, "lutram", True, "BatchNorm multipliers"),
        Memory("PBIAS", 32, max(1, len(mul)), pout, "lutram", True, "biases"),
        Memory("PSHIFT", 8, max(1, len(mul)), pout, "lutram", True, "shifts"),
        Memory("LTAB", 32 * len(LTAB_FIELDS), len(rows), 1, "lutram", True, "the layer table"),
    ]
    est.multipliers = {"MAC array (mac_layer: LANES_OUT x LANES_IN)": (pin * pout, f"{wb} x 8 bits"),
                       "BatchNorm acc x mul (mac_layer: REQUANT)": (pout, f"{dp['acc_bits']} x {dp['mul_bits']} bits")}
    return est


def markdown(est: Estimate, clock_ns: float = 10.0) -> str:
    """The estimate as Markdown tables: cycles by loop kind, multipliers, memories."""
    pin, pout = est.lanes
    by: dict[str, list[Loop]] = {}
    for lp in est.loops:
        by.setdefault(lp.loop, []).append(lp)
    lines = ["| loop | entries | trip counts | cycles |", "|---|---|---|---|"]
    for loop, lps in by.items():
        lines.append(f"| {loop} | {len(lps)} | {sum(lp.trips for lp in lps):,} | {sum(lp.cycles for lp in lps):,} |")
    ms = est.cycles * clock_ns * 1e-6
    lines.append(f"| **total** | | | **{est.cycles:,}** ({ms:.2f} ms, {1000 / ms:.1f} images/s at {clock_ns:g} ns) |")
    lines += ["", "| multipliers | count | operands |", "|---|---|---|"]
    lines += [f"| {where} | {n} | {w} |" for where, (n, w) in est.multipliers.items()]
    lines.append(f"| **total** | **{est.multiplier_count}** | |")
    lines += ["", "| memory | width x depth | arrays | implementation | RAMB18 | LUTs |", "|---|---|---|---|---|---|"]
    lines += [f"| `{m.name}` ({m.doc}) | {m.width} x {m.depth:,} | {m.count} | {m.impl}{' ROM' if m.rom else ''} | "
              f"{m.ramb18 or ''} | {m.luts or ''} |" for m in est.memories]
    lines.append(f"| **total** | | | | **{est.ramb36:g} RAMB36** | **{est.lutram_luts:,}** |")
    return "\n".join(lines) + "\n"


def part_fit(ir: IR, lanes=(8, 8), part: str | None = None) -> dict:
    """The estimate's block RAM and multipliers at these lanes against a part's (default the
    board's): `generate` warns and the report tells when `over` is not empty."""
    from .layout import BOARD_PART, over_part, part_resources
    part = part or BOARD_PART
    est = estimate(ir, lanes)
    needs = {"RAMB36": est.ramb36, "DSP48E1": est.multiplier_count}
    return {"lanes": f"{lanes[0]}x{lanes[1]}", "part": part, "needs": needs, "has": part_resources(part),
            "over": over_part(needs, part)}
