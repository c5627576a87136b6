"""The accelerator's bus protocol as data, shared by every testbench that drives it (the cocotb
ones here, FSIC's in unetaccel.fsic): the streams' byte order and the single-layer registers of a
layer-table row. No simulator import."""
from __future__ import annotations

import logging

import numpy as np

from ..codegen import regmap


def hwc(a: np.ndarray) -> bytes:
    """C x H x W codes -> the HWC bytes of the streams (int8 as two's complement)."""
    return (np.ascontiguousarray(np.asarray(a).transpose(1, 2, 0)).ravel() & 0xFF).astype(np.uint8).tobytes()


def quiet_buses(dut, *prefixes: str) -> None:
    """cocotbext-axi's drivers of these buses log at WARNING only: at INFO they log their
    configuration (30 lines a driver) and every frame whole (an image's bytes on one line)."""
    for p in prefixes:
        logging.getLogger(f"cocotb.{dut._name}.{p}").setLevel(logging.WARNING)


def layer_registers(row: dict) -> list[tuple[str, int]]:
    """(register, value) of one layer-table row in single-layer mode (docs/registers.md), in the
    order the testbenches write them (MODE and the start follow)."""
    cin = row["cin0"] + row["cin1"]
    return [("OPCODE", regmap.pack("OPCODE", op=row["op"])),
            ("DIM", regmap.pack("DIM", height=row["h"], width=row["w"])),
            ("KERNEL", regmap.pack("KERNEL", kernel_size=row["k"], padding=row["pad"])),
            ("CHANNELS", regmap.pack("CHANNELS", in_channels=cin, out_channels=row["cout"])),
            ("SRC_BASE", regmap.pack("SRC_BASE", addr=row["src0"])),
            ("SKIP_BASE", regmap.pack("SKIP_BASE", addr=row["src1"])),
            ("DST_BASE", regmap.pack("DST_BASE", addr=row["dst"])),
            ("WGT_BASE", regmap.pack("WGT_BASE", addr=row["wbase"])),
            ("BN_BASE", regmap.pack("BN_BASE", addr=row["pbase"])),
            ("QUANT", regmap.pack("QUANT", split=row["cin0"] if row["cin1"] else 0, signed=int(row["lo"] < 0)))]
