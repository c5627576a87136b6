"""Does the accelerator, as FSIC's user project 0, fit the PYNQ-Z2 beside FSIC's own logic?

FSIC's board design puts the whole Caravel chip (management core, housekeeping, FSIC's user area
with user projects 1-3) and FSIC's FPGA side (ps_axil, the HLS IPs, the flash memory) into the
xc7z020 beside user project 0: the accelerator gets what they leave. FSIC_USE is what they take,
measured once (the command is below); `generate` warns (fsic_fit, message) when the accelerator's
estimated block RAM or DSP48E1 exceed what is left, and names a lane shape and multiplier style
that fit. The estimate is the RTL's own memories (rtl_project.memories, as Yosys maps them onto
RAMB36E1 / RAMB18E1) and multipliers; LUTs are not estimated (the budget left is named).
"""
from __future__ import annotations

import math

from ..ir.graph import IR
from .layout import PART_RESOURCES, SUPPORTED_LANES, check_lanes, max_weight_bits

#: FSIC's board part (PYNQ-Z2): xc7z020clg400-1; its LUT and FF from DS190 beside PART_RESOURCES'.
FSIC_PART = "xc7z020"
PART = {**PART_RESOURCES[FSIC_PART], "FF": 106400}

#: What FSIC's board design takes of the xc7z020 without user project 0, as Yosys 0.70
#: `synth_xilinx -family xc7` counts it (LUT = LUT1..6 + INV + LUTs as memory and shift registers;
#: FF with latches; RAMB18 = 0.5 RAMB36): Caravel less USER_PRJ0 (6,431 LUT, 7,043 FF, 3.5 RAMB36),
#: ps_axil (5,868 LUT, 9,881 FF, 1 RAMB36), caravel_ps + output_pin + spiflash (311 LUT, 266 FF), and
#: blk_mem_gen_0's 2 RAMB36 (FSIC's hardware handoff: C_COUNT_36K_BRAM). Measured with
#:     FSIC_FPGA_ROOT=... .venv/bin/python benchmarks/bench_fsic_fit.py --lanes 8x8,16x16:dsp2
#: (FSIC's part does not depend on ours, but ABC maps it a little differently beside each: these
#: LUTs are the 16x16 run's, 98 more than the 8x8 run's; the Yosys runs took 909 and 806 s). The
#: Xilinx IPs without sources (AXI Quad SPI, the AXI interconnects, proc_sys_reset; PS7 and clk_wiz
#: take none of these) and the AXI DMA our data path adds are not in it: FSIC_MARGIN stands for them.
FSIC_USE = {"LUT": 12610, "FF": 17190, "DSP48E1": 0, "RAMB36": 6.5}
#: Kept free for what is not synthesised: an assumed margin, no measured or documented figure (the
#: product guides give none for these configurations); 4 RAMB36 in case the AXI DMA's data FIFOs
#: take block RAM.
FSIC_MARGIN = {"LUT": 3000, "FF": 4000, "DSP48E1": 0, "RAMB36": 4.0}
MULTS = ("dsp", "dsp2")

#: Block RAM shapes (data bits x words) Yosys maps a memory onto, in RAMB36 units: a RAMB36E1 and a
#: RAMB18E1 (0.5). A memory written whole word uses the parity bits as data (the 9-bit multiples);
#: one written a lane byte at a time (byte enables: the activations) does not.
BRAM_SHAPES = tuple((1.0, w, d) for w, d in ((1, 32768), (2, 16384), (4, 8192), (9, 4096), (18, 2048),
                                               (36, 1024), (72, 512))) + \
    tuple((0.5, w, d) for w, d in ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512)))


def bram(width: int, depth: int, parity: bool = True) -> float:
    """RAMB36 (RAMB18 = 0.5) of a width x depth memory: the cheapest of BRAM_SHAPES (without
    `parity`, a 9-bit multiple holds 8 data bits)."""
    return min(cost * math.ceil(width / (w if parity or w % 9 else w // 9 * 8)) * math.ceil(depth / d)
               for cost, w, d in BRAM_SHAPES)


def budget() -> dict:
    """What FSIC's board leaves of the xc7z020 for user project 0 (FSIC_USE and FSIC_MARGIN taken)."""
    return {k: PART[k] - FSIC_USE[k] - FSIC_MARGIN[k] for k in FSIC_USE}


def needs(ir: IR, lanes=(8, 8), mult: str = "dsp") -> dict:
    """The accelerator's RAMB36 and DSP48E1 at these lanes: its block RAM memories (two activation
    banks when it pairs convs, the weight memory a bank of W_BANK_WORDS words a memory, the layer
    table; the BatchNorm parameters are LUT RAM) and PIN x POUT multipliers (half with dsp2) plus two
    a BatchNorm output lane."""
    from .rtl_project import MEM_STYLES, has_pairs, memories, weight_banks
    pin, pout = check_lanes(lanes)
    mems = memories(ir, (pin, pout))
    blocks = 0.0
    for name, (w, d) in mems.items():
        if MEM_STYLES.get(name) == "distributed":
            continue
        if name == "wmem":
            blocks += sum(bram(w, b) for b in weight_banks(d))
        elif name == "act":  # written a lane byte at a time; two banks when the engine pairs convs
            banks = 2 if has_pairs(ir, (pin, pout)) else 1
            blocks += banks * bram(w, -(-d // banks), parity=False)
        else:
            blocks += bram(w, d)
    macs = pin * pout // (2 if mult == "dsp2" else 1)
    return {"RAMB36": blocks, "DSP48E1": macs + 2 * pout}


def _buildable(ir: IR, lanes, mult: str) -> bool:
    from .rtl_project import MultError, check_mult
    try:
        check_mult(mult, lanes, max_weight_bits(ir))
    except MultError:
        return False
    return True


def fsic_fit(ir: IR, lanes=(8, 8), mult: str = "dsp") -> dict:
    """{"needs", "budget", "over": ['N RAMB36 of the M left'...], "suggest": (lanes, mult) or None}:
    `suggest` is the shape with the most lanes (then the fewest DSP48E1, the most even) that fits,
    when this one does not."""
    have = budget()
    need = needs(ir, lanes, mult)
    over = [f"{need[k]:g} {k} of the {have[k]:g} left" for k in need if need[k] > have[k]]
    suggest = None
    if over:
        fits = []
        for pin in SUPPORTED_LANES:
            for pout in SUPPORTED_LANES:
                for m in MULTS:
                    if not _buildable(ir, (pin, pout), m):
                        continue
                    n = needs(ir, (pin, pout), m)
                    if all(n[k] <= have[k] for k in n):
                        fits.append((-(pin * pout), n["DSP48E1"], abs(pin - pout), MULTS.index(m), (pin, pout), m))
        if fits:
            best = min(fits)
            suggest = (best[4], best[5])
    return {"lanes": f"{lanes[0]}x{lanes[1]}", "mult": mult, "needs": need, "budget": have, "over": over,
            "suggest": suggest}


def message(fit: dict) -> str:
    """The warning's text for a fsic_fit() whose `over` is not empty ('' when it fits)."""
    if not fit["over"]:
        return ""
    b = fit["budget"]
    text = (f"at {fit['lanes']} lanes (--mult {fit['mult']}) the accelerator needs {', '.join(fit['over'])} "
            f"for user project 0 on FSIC's board ({FSIC_PART}: {b['RAMB36']:g} RAMB36, {b['DSP48E1']} DSP48E1, "
            f"{b['LUT']:,} LUT left once FSIC's own logic is counted)")
    if fit["suggest"]:
        (pin, pout), m = fit["suggest"]
        text += f"; --lanes {pin}x{pout} --mult {m} fits"
    else:
        text += "; no lane shape fits: a smaller network is needed"
    return text
