"""IR -> files: the C/HLS project, the Verilog accelerator, its FSIC integration and its PYNQ-Z2
deployment folder.

Emitters are pure functions from the IR to {relative path: text} (hls_project.emit_hls,
rtl_project.emit_rtl, fsic_project.emit_fsic, pynq_project.emit_pynq), rendered from Jinja2 template files (templates/ beside this package);
writer.write_files is the one writer (it rewrites only files whose text changed), and
cache holds the build cache's digests and stamps. Nothing here imports torch.
"""
from __future__ import annotations

from pathlib import Path


def generate(ir, out, lanes=(8, 8), part=None, clock_ns=10.0, ir_file="model.json",
             mult="dsp", bus_errors="okay", pynq_hls=False) -> dict[str, list[Path]]:
    """Write OUT/hls (the HLS project), OUT/rtl (the Verilog accelerator), OUT/fsic (the
    accelerator as FSIC's user project 0, with its firmware) and OUT/pynq (the PYNQ-Z2 block design,
    bitstream script, hardware handoff and driver description; with pynq_hls, for the HLS IP) for the IR;
    returns the written files per target. Both take PIN x POUT lanes; the RTL engine's are powers
    of two from 2 to 32, checked before anything is written, as is `mult`, the RTL's multiplier
    style (rtl_project.MULTS), and `bus_errors`, what its AXI-Lite slave answers to a refused access
    (regmap.BUS_ERRORS)."""
    from .fsic_project import generate_fsic
    from .hls_project import DEFAULT_PART, generate_hls
    from .layout import max_weight_bits
    from .pynq_project import dma_length_bits, generate_pynq
    from .rtl_project import check_bus_errors, check_lanes, check_mult, generate_rtl

    check_lanes(lanes)  # before writing anything
    check_mult(mult, lanes, max_weight_bits(ir))
    check_bus_errors(bus_errors)
    dma_length_bits(ir)  # a transfer the board's DMA cannot take: refused before anything is written
    out = Path(out)
    return {"hls": generate_hls(ir, out / "hls", lanes=lanes, part=part or DEFAULT_PART, clock_ns=clock_ns,
                                ir_file=ir_file),
            "rtl": generate_rtl(ir, out / "rtl", lanes=lanes, ir_file=ir_file, mult=mult, part=part or DEFAULT_PART,
                                bus_errors=bus_errors),
            "fsic": generate_fsic(ir, out / "fsic", lanes=lanes, ir_file=ir_file),
            "pynq": generate_pynq(ir, out / "pynq", lanes=lanes, hls=pynq_hls, ir_file=ir_file,
                                  part=part or DEFAULT_PART)}
