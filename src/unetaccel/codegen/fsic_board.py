"""BUILD/fsic/vivado: FSIC's PYNQ-Z2 board design with the accelerator in user project 0 and a
data path from the ARM to it (issue 23; docs/fsic_board.md).

FSIC's board build (vivado/vvd_caravel_fpga_fsic.tcl in a checkout of bol-edu/fsic_fpga) puts the
whole Caravel chip, FSIC's FPGA side ps_axil and the ARM into one PYNQ-Z2 design. fsic_board.tcl,
rendered here, reads that script from $FSIC_FPGA_ROOT when Vivado runs, changes it in memory at
four places, each found by its exact text (a script that has changed stops the run with a message
naming the place), and evaluates it:

- the example user project 0's files leave the source list; ours join it (BUILD/fsic/user_prj0.v,
  BUILD/rtl's design sources, BUILD/fsic/unet_mem.vh as a global include giving the memory images'
  absolute paths, the images themselves as memory initialisation files), and a memory image that
  synthesis cannot open (Synth 8-4445) becomes an error;
- before FSIC validates its block design: an AXI DMA in simple mode (axi_dma_0: MM2S into
  ps_axil_0/updma_si, TUSER tied to 0 by an xlconstant, ps_axil_0/updma_so into S2MM, its memory
  masters on HP0 through FSIC's axi_mem_intercon, its registers on ps7_0_axi_periph's free M02),
  an interrupt controller (axi_intc_0 on a new M06: the DMA's two interrupts and FSIC's mailbox
  interrupt aa_mb_irq through an xlconcat, its irq into the PS7's IRQ_F2P), all on FSIC's 5 MHz
  clk_wiz_0/clk_out1 and its reset;
- FSIC's closing `exit` goes, so that the bitstream and the hardware handoff can be copied here
  (fsic_board.bit, fsic_board.hwh) once FSIC's own run has written them.

Nothing of FSIC's text is in the repository or in BUILD: the script is read where the user's
checkout has it. fsic_board.json says what the ARM side needs (addresses, interrupts, the DMA's
length width). Every value here is data the template renders and the json repeats: one place.
Deterministic; needs neither Vivado nor the checkout.
"""
from __future__ import annotations

import json

from ..ir.graph import IR
from .pynq_project import dma_config, dma_length_bits, transfers
from .render import render

FSIC_SCRIPT = "vivado/vvd_caravel_fpga_fsic.tcl"
#: What FSIC's script calls its project and block design (its run_vivado_fsic copies from there).
FSIC_PROJECT, FSIC_BD = "vvd_caravel_fpga", "design_1"
PART = "xc7z020clg400-1"
FOLDER = "vivado"
TCL, JSON, README = "fsic_board.tcl", "fsic_board.json", "README.md"
BITSTREAM, HWH = "fsic_board.bit", "fsic_board.hwh"
#: The lines of FSIC's script naming the example user project 0's files (dropped).
EXAMPLE = "*/user_prj/user_prj0/rtl/*"

#: FSIC's cells we connect to (their names in FSIC's script).
PS7, PS_AXIL, CLK, RESET = "processing_system7_0", "ps_axil_0", "clk_wiz_0", "rst_ps7_0_10M"
PERIPH, MEM = "ps7_0_axi_periph", "axi_mem_intercon"
CLOCK_PIN, RESET_PIN = f"{CLK}/clk_out1", f"{RESET}/peripheral_aresetn"
#: FSIC's core clock on the board (clk_wiz_0/clk_out1: Caravel, ps_axil and every AXI port) and
#: io_serdes' clock (clk_out2, is_ioclk).
CLOCK_HZ, IOCLK_HZ = 5_000_000, 20_000_000
#: io_serdes: 13 data lines each way (FSIC's pSERIALIO_WIDTH), 4 io clocks a core clock.
SERIAL_LINES, CLOCK_RATIO = 13, IOCLK_HZ // CLOCK_HZ

#: Our cells.
DMA, INTC, CONCAT, TUSER = "axi_dma_0", "axi_intc_0", "unet_irq_concat", "unet_tuser_zero"
CELLS = ((DMA, "xilinx.com:ip:axi_dma:7.1"), (INTC, "xilinx.com:ip:axi_intc:4.1"),
         (CONCAT, "xilinx.com:ip:xlconcat:2.1"), (TUSER, "xilinx.com:ip:xlconstant:1.1"))
#: FSIC's design has NUM_SI 1 on axi_mem_intercon and NUM_MI 6 on ps7_0_axi_periph (M02 unused).
MEM_SI, PERIPH_MI = 3, 7
DMA_LITE_PORT, INTC_PORT = 2, 6  # ps7_0_axi_periph's M02 (free in FSIC's design), M06 (new)
TUSER_BITS = 7  # ps_axil's updma_si_tuser with USER_PROJECT_SIDEBAND_SUPPORT (FSIC's fsic_defines.v)
#: axi_intc_0's inputs (intr bits, xlconcat In<i>), in order.
INTERRUPTS = (("dma_mm2s", f"{DMA}/mm2s_introut"), ("dma_s2mm", f"{DMA}/s2mm_introut"),
              ("mailbox", f"{PS_AXIL}/aa_mb_irq"))
#: IRQ_F2P[0] is the Zynq-7000's shared peripheral interrupt 61 (UG585, the interrupt table).
IRQ_F2P_GIC_ID = 61

#: The ARM's address map. FSIC's (read from its script's assign_bd_address lines; the test holds
#: these against the checkout's script) and ours: instance -> (slave interface, base, range).
FSIC_ADDRESSES = {"caravel_ps": ("caravel_ps_0", "s_axi_control", 0x4000_0000, 0x1_0000),
                  "output_pin": ("output_pin_0", "s_axi_control", 0x4001_0000, 0x1_0000),
                  "quad_spi": ("axi_quad_spi_0", "AXI_LITE", 0x44A0_0000, 0x1_0000),
                  "ps_axil": (PS_AXIL, "s_axi", 0x6000_0000, 0x8000),
                  "ladma": (PS_AXIL, "ladma_s", 0x6000_8000, 0x1000)}
OUR_ADDRESSES = {"dma": (DMA, "S_AXI_LITE", 0x4040_0000, 0x1_0000),
                 "intc": (INTC, "s_axi", 0x4180_0000, 0x1_0000)}
#: ps_axil's s_axi sub-blocks (offsets from its base; FSIC's notebook names them so).
PS_AXIL_BLOCKS = {"SOC_UP": 0x0000, "SOC_LA": 0x1000, "PL_AA_MB": 0x2000, "PL_AA": 0x2100, "SOC_IS": 0x3000,
                  "SOC_AS": 0x4000, "SOC_CC": 0x5000, "PL_AS": 0x6000, "PL_IS": 0x7000}
#: The DDR as the DMA's masters see it through HP0 (FSIC maps ladma_mm the same way).
DDR_SEGMENT, DDR_BASE, DDR_RANGE = f"{PS7}/S_AXI_HP0/HP0_DDR_LOWOCM", 0x0000_0000, 0x2000_0000


def ps7_config() -> tuple[tuple[str, str], ...]:
    """What we change of FSIC's processing_system7_0: the fabric interrupt on."""
    return (("PCW_USE_FABRIC_INTERRUPT", "1"), ("PCW_IRQ_F2P_INTR", "1"))


def interface_links() -> list[tuple[str, str]]:
    """connect_bd_intf_net pairs (initiator, target) we add."""
    return [(f"{DMA}/M_AXIS_MM2S", f"{PS_AXIL}/updma_si"), (f"{PS_AXIL}/updma_so", f"{DMA}/S_AXIS_S2MM"),
            (f"{DMA}/M_AXI_MM2S", f"{MEM}/S01_AXI"), (f"{DMA}/M_AXI_S2MM", f"{MEM}/S02_AXI"),
            (f"{PERIPH}/M{DMA_LITE_PORT:02d}_AXI", f"{DMA}/S_AXI_LITE"),
            (f"{PERIPH}/M{INTC_PORT:02d}_AXI", f"{INTC}/s_axi")]


def nets() -> list[tuple[str, list[str]]]:
    """connect_bd_net (driver, loads) we add; a driver already on one of FSIC's nets (the clock,
    the reset) gains loads."""
    clocks = [f"{DMA}/s_axi_lite_aclk", f"{DMA}/m_axi_mm2s_aclk", f"{DMA}/m_axi_s2mm_aclk", f"{INTC}/s_axi_aclk",
              f"{MEM}/S01_ACLK", f"{MEM}/S02_ACLK", f"{PERIPH}/M{INTC_PORT:02d}_ACLK"]
    resets = [f"{DMA}/axi_resetn", f"{INTC}/s_axi_aresetn", f"{MEM}/S01_ARESETN", f"{MEM}/S02_ARESETN",
              f"{PERIPH}/M{INTC_PORT:02d}_ARESETN"]
    out = [(CLOCK_PIN, clocks), (RESET_PIN, resets), (f"{TUSER}/dout", [f"{PS_AXIL}/updma_si_tuser"])]
    out += [(pin, [f"{CONCAT}/In{i}"]) for i, (_, pin) in enumerate(INTERRUPTS)]
    out += [(f"{CONCAT}/dout", [f"{INTC}/intr"]), (f"{INTC}/irq", [f"{PS7}/IRQ_F2P"])]
    # the pads Caravel drives, to the ARM through caravel_ps_0 (FSIC's design connects only their
    # enables): the driver waits for the firmware's mprj_io[37] there before it starts the link
    out += [("caravel_0/mprj_o", ["caravel_ps_0/mprj_out"])]
    return out


def cell_config(ir: IR) -> dict[str, tuple[tuple[str, str], ...]]:
    return {DMA: dma_config(ir),
            INTC: (("C_IRQ_CONNECTION", "1"),),  # a level irq output (PYNQ's Interrupt expects that)
            CONCAT: (("NUM_PORTS", str(len(INTERRUPTS))),),
            TUSER: (("CONST_WIDTH", str(TUSER_BITS)), ("CONST_VAL", "0"))}


def addresses() -> list[tuple[str, int, int]]:
    """assign_bd_address of our slaves in the PS7's Data space: (segment's interface pin, base, range)."""
    return [(f"{inst}/{intf}", base, rng) for inst, intf, base, rng in OUR_ADDRESSES.values()]


def link_bytes_per_cycle() -> float:
    """The most stream bytes one direction of io_serdes carries a core cycle: 13 lines x 4 io
    clocks = 52 bits a core cycle, which carry at most one 32-bit word of the stream (with its
    TUSER, TKEEP, TSTRB, TLAST, TID and valid beside it), so 4 bytes."""
    bits = SERIAL_LINES * CLOCK_RATIO
    return 4.0 if bits >= 32 else bits / 8


def board(ir: IR, lanes=(8, 8), ir_file: str = "model.json") -> dict:
    """fsic_board.json: what the ARM side reads."""
    t = transfers(ir)
    amap = {k: {"instance": i, "interface": f, "base": b, "range": r}
            for k, (i, f, b, r) in {**FSIC_ADDRESSES, **OUR_ADDRESSES}.items()}
    amap["ps_axil"]["blocks"] = dict(PS_AXIL_BLOCKS)
    amap["dma"].update(length_bits=dma_length_bits(ir), mode="simple", to_device=f"{PS_AXIL}/updma_si",
                       from_device=f"{PS_AXIL}/updma_so")
    return {"format": "unetaccel-fsic-board", "version": 1, "bitstream": BITSTREAM, "hwh": HWH, "part": PART,
            "clock_hz": CLOCK_HZ, "ioclk_hz": IOCLK_HZ, "ir": ir_file, "lanes": list(lanes),
            "input_shape": t["input_shape"], "num_classes": t["num_classes"], "in_bytes": t["in_bytes"],
            "class_bytes": t["class_bytes"], "logit_bytes": t["logit_bytes"],
            "addresses": amap,
            "interrupts": {"controller": INTC, "irq_f2p": 0, "gic_id": IRQ_F2P_GIC_ID,
                           "inputs": {name: i for i, (name, _) in enumerate(INTERRUPTS)}},
            "user_project": {"slot": 0, "tid": 0, "tuser": 0, "soc_base": 0x3000_0000,
                             "irq": "Caravel user_irq (FSIC's irq_mux): the firmware's, not the ARM's"},
            "link_bytes_per_cycle": link_bytes_per_cycle()}


def emit_board(ir: IR, lanes=(8, 8), ir_file: str = "model.json", sources=(), header: str = "",
               mem_files=()) -> dict[str, str]:
    """BUILD/fsic/vivado's files, {path relative to BUILD/fsic: text}. sources, header, mem_files:
    our files, relative to BUILD/fsic."""
    banner = f"Generated by unetaccel from the IR '{ir.name}' ({ir_file}). Do not edit."
    ctx = {"banner": banner, "fsic_script": FSIC_SCRIPT, "example": EXAMPLE, "project": FSIC_PROJECT, "bd": FSIC_BD,
           "sources": [f"../{s}" for s in sources], "header": f"../{header}", "mem_files": [f"../{m}" for m in mem_files],
           "ps7": PS7, "ps7_config": ps7_config(), "mem": MEM, "mem_si": MEM_SI, "periph": PERIPH,
           "periph_mi": PERIPH_MI, "cells": CELLS, "cell_config": cell_config(ir), "links": interface_links(),
           "nets": nets(), "addresses": addresses(), "dma": DMA, "dma_masters": ("Data_MM2S", "Data_S2MM"),
           "ddr": (DDR_SEGMENT, DDR_BASE, DDR_RANGE), "bitstream": BITSTREAM, "hwh": HWH,
           "length_bits": dma_length_bits(ir), "ir_file": ir_file}
    return {f"{FOLDER}/{TCL}": render(f"fsic_project/{FOLDER}/{TCL}.j2", ctx),
            f"{FOLDER}/{JSON}": json.dumps(board(ir, lanes, ir_file), indent=2) + "\n"}
