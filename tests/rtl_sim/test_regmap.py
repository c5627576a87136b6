"""The register map is the one source of every register fact (no simulator): packing, write
masks, the C header (compiled with gcc), and the generated Verilog following a changed
description."""
import dataclasses
import re
import shutil
import subprocess

import pytest

from unetaccel.codegen import regmap
from unetaccel.codegen.hls_project import generate_hls
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.ir import randnet
from unetaccel.rtl_sim.runner import SOURCES
from unetaccel.tools import ensure_verilator_on_path

SEED = 11


@pytest.fixture(scope="module")
def net():
    print("seed", SEED)
    return randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=SEED)


def test_pack_unpack_and_write_masks():
    assert regmap.pack("CONFIG", pin=8, pout=4, weight_bits=5) == 5 << 16 | 8 << 8 | 4
    assert regmap.unpack("CONFIG", 0x00050804) == {"pout": 4, "pin": 8, "weight_bits": 5}
    assert regmap.pack("QUANT", split=3, signed=1) == 3 << 16 | 1
    assert regmap.unpack("WLOAD_ADDR", regmap.pack("WLOAD_ADDR", region=2, index=77)) == {"index": 77, "region": 2}
    # writable bits: the fields of read/write registers, only ap_start of CTRL, nothing of a status register
    assert regmap.write_mask("MODE") == 0xF and regmap.write_mask("OPCODE") == 0xFF
    assert regmap.write_mask("QUANT") == 0xFFFF0001 and regmap.write_mask("DIM") == 0xFFFFFFFF
    assert regmap.write_mask("CTRL") == regmap.field("CTRL", "ap_start").mask | regmap.field("CTRL", "abort").mask == 0x21
    assert regmap.write_mask("ERROR") == regmap.write_mask("CONFIG") == 0
    assert regmap.reset_value("CTRL") == regmap.pack("CTRL", ap_idle=1)
    assert regmap.reset_value("ID") == regmap.ID_VALUE and regmap.reset_value("MODE") == 0
    with pytest.raises(ValueError, match=r"DIM.height = 65536 does not fit its 16 bits"):
        regmap.pack("DIM", height=1 << 16)
    with pytest.raises(KeyError, match="MODE has no field 'turbo'"):
        regmap.pack("MODE", turbo=1)
    with pytest.raises(KeyError, match="no register 'NOPE'"):
        regmap.write_mask("NOPE")


def test_fields_do_not_overlap_and_fit_the_word():
    offsets = [r.offset for r in regmap.REGISTERS]
    assert len(set(offsets)) == len(offsets) and all(o % 4 == 0 and o < 1 << regmap.ADDR_BITS for o in offsets)
    for r in regmap.REGISTERS:
        used = 0
        for f in r.fields:
            assert f.mask >> regmap.WORD_BITS == 0, f"{r.name}.{f.name} beyond bit 31"
            assert not used & f.mask, f"{r.name}.{f.name} overlaps another field"
            used |= f.mask


def test_c_header_compiles_and_holds_the_description(net, tmp_path):
    """BUILD/rtl/unet_regmap.h (the firmware header) compiles with gcc -Wall -Werror and every #define
    holds the description's value; the HLS project has its own header (test_hls_regmap_header)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is needed to compile the firmware header (apt-get install gcc)")
    generate_rtl(net, tmp_path / "rtl")
    generate_hls(net, tmp_path / "hls")
    assert not (tmp_path / "hls" / "unet_regmap.h").exists()  # the RTL's map is not the HLS core's
    consts = regmap.constants()
    prog = tmp_path / "check.c"
    prog.write_text('#include <stdio.h>\n#include "unet_regmap.h"\n#include "unet_regmap.h"\nint main(void) {\n'
                    + "".join(f'    printf("%s %lu\\n", "{n}", (unsigned long){n});\n' for n, _, _ in consts)
                    + "    return 0;\n}\n")
    exe = tmp_path / "check"
    r = subprocess.run([gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path / "rtl"), str(prog),
                        "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = dict(line.split() for line in subprocess.run([str(exe)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines())
    assert {n: int(v) for n, v in got.items()} == {n: v for n, v, _ in consts}
    # a few by name, from the description's own objects
    assert int(got["UNET_REG_CONFIG"]) == regmap.by_name("CONFIG").offset == 0x0F8
    assert int(got["UNET_QUANT_SPLIT_SHIFT"]) == regmap.field("QUANT", "split").lsb
    assert int(got["UNET_WLOAD_ADDR_REGION_MASK"]) == regmap.field("WLOAD_ADDR", "region").mask
    assert int(got["UNET_ERR_BAD_MODE"]) == regmap.ERRORS["bad_mode"]


def test_hls_regmap_header(net, tmp_path):
    """BUILD/hls/unet_hls_regmap.h describes the core Vitis builds: its CTRL bits (bit 3 ap_ready),
    the ports at their offsets with an ap_vld word after each output's data, none of them in
    Vitis' reserved 0x00-0x18 or overlapping another, the field shifts and masks of the
    description's registers; it compiles with gcc -Wall -Werror."""
    from unetaccel.codegen import hls_project
    generate_hls(net, tmp_path / "hls")
    prog = tmp_path / "check.c"
    header = (tmp_path / "hls" / "unet_hls_regmap.h").read_text()
    names = re.findall(r"#define (UNET_HLS_\w+) ", header)
    prog.write_text('#include <stdio.h>\n#include "unet_hls_regmap.h"\nint main(void) {\n'
                    + "".join(f'    printf("%s %lu\\n", "{n}", (unsigned long){n});\n' for n in names) + "    return 0;\n}\n")
    r = subprocess.run([shutil.which("gcc") or "gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I",
                        str(tmp_path / "hls"), str(prog), "-o", str(tmp_path / "check")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = {k: int(v) for k, v in (ln.split() for ln in subprocess.run(
        [str(tmp_path / "check")], capture_output=True, text=True, check=True).stdout.splitlines())}
    assert got["UNET_HLS_CTRL_AP_READY_MASK"] == 1 << 3 and got["UNET_HLS_CTRL_AP_DONE_MASK"] == 1 << 1
    assert "UNET_HLS_CTRL_AP_ERROR_MASK" not in got and "UNET_HLS_REG_CYCLES_LO" not in got
    used = {}
    for p in hls_project.hls_ports():
        assert got[f"UNET_HLS_REG_{p['name'].upper()}"] == p["offset"] >= 0x1C
        words = p["words"] + 1
        if p["dir"] == "out":
            assert got[f"UNET_HLS_REG_{p['name'].upper()}_CTRL"] == p["offset"] + 4 * p["words"]
        for a in range(p["offset"], p["offset"] + 4 * words, 4):
            assert a not in used, (p["name"], used.get(a))
            used[a] = p["name"]
    for reg in ("DIM", "KERNEL", "CHANNELS", "MODE", "LAYER", "NUM_LAYERS", "ERROR", "CONFIG"):
        for f in regmap.by_name(reg).fields:
            assert got[f"UNET_HLS_{reg}_{f.name.upper()}_SHIFT"] == f.lsb
            assert got[f"UNET_HLS_{reg}_{f.name.upper()}_MASK"] == f.mask
    assert got["UNET_HLS_REG_NUM_LAYERS"] == got["UNET_HLS_REG_LAYERS"] + 4
    assert got["UNET_HLS_ERR_BAD_MODE"] == regmap.ERRORS["bad_mode"] and got["UNET_HLS_ID_VALUE"] == regmap.ID_VALUE


def _patch(monkeypatch, name, offset=None, **fields):
    """Replace register `name` in the description: a new offset and/or fields (name -> (lsb, width))."""
    regs = []
    for r in regmap.REGISTERS:
        if r.name == name:
            new = tuple(dataclasses.replace(f, lsb=fields[f.name][0], width=fields[f.name][1])
                        if f.name in fields else f for f in r.fields)
            new += tuple(regmap.Field(k, lsb, w) for k, (lsb, w) in fields.items()
                         if k not in {f.name for f in r.fields})
            r = dataclasses.replace(r, fields=new, offset=r.offset if offset is None else offset)
        regs.append(r)
    monkeypatch.setattr(regmap, "REGISTERS", tuple(regs))


def _rtl(net, out):
    generate_rtl(net, out)
    return {s: (out / s).read_text() for s in ("unet_regs.sv", "unet_accel.sv", "unet_core.sv")}


def test_generated_verilog_follows_the_description(net, tmp_path, monkeypatch):
    """A changed description changes the generated Verilog where the RTL uses that fact:
    write masks, field slices, the unused bits, the CONFIG word, offsets, op and error codes."""
    before = _rtl(net, tmp_path / "before")
    assert f"OP_ARGMAX = {regmap.OPCODES['argmax']};" in before["unet_core.sv"]
    assert "mode <= strobed(mode, wdata_q, wen) & 32'hF;" in before["unet_regs.sv"]
    assert "sl_quant <= strobed(sl_quant, wdata_q, wen) & 32'hFFFF0001;" in before["unet_regs.sv"]
    assert ".sl_h({16'd0, sl_dim[31:16]}), .sl_w({16'd0, sl_dim[15:0]})" in before["unet_accel.sv"]
    assert "wire unused = &{1'b0, mode[31:4], sl_opcode[31:8], sl_quant[15:1], 1'b0};" in before["unet_accel.sv"]

    _patch(monkeypatch, "QUANT", split=(8, 16))  # the concat split moves to [23:8]
    _patch(monkeypatch, "DIM", height=(0, 16), width=(16, 16))  # height and width swap
    _patch(monkeypatch, "CTRL", ap_start=(4, 1))  # ap_start moves to bit 4
    _patch(monkeypatch, "ERROR", offset=0x088)
    monkeypatch.setattr(regmap, "OPCODES", {**regmap.OPCODES, "argmax": 9})
    monkeypatch.setattr(regmap, "ERRORS", {**regmap.ERRORS, "bad_size": 12})
    after = _rtl(net, tmp_path / "after")
    regs, accel, core = after["unet_regs.sv"], after["unet_accel.sv"], after["unet_core.sv"]
    assert "sl_quant <= strobed(sl_quant, wdata_q, wen) & 32'hFFFF01;" in regs
    assert "sl_split = {16'd0, sl_quant[23:8]};" in accel
    assert "wire unused = &{1'b0, mode[31:4], sl_opcode[31:8], sl_quant[31:24], sl_quant[7:1], 1'b0};" in accel
    assert ".sl_h({16'd0, sl_dim[15:0]}), .sl_w({16'd0, sl_dim[31:16]})" in accel
    assert "assign cur_dim = {w[15:0], h[15:0]};" in core
    assert "wire       start_written = ctrl_write && wen[4] && wdata_q[4];" in regs
    assert "s_axil_rdata <= {27'd0, busy | start_pulse, err_flag, !busy && !start_pulse, done_flag, 1'd0};" in regs
    assert "localparam [31:0] UNET_REG_ERROR = 32'h00000088;" in regs
    assert "OP_ARGMAX = 9;" in core
    assert "ERR_BAD_SIZE = 12," in core
    # the moved fields still make consistent Verilog (every bit used or declared unused)
    d = ensure_verilator_on_path()
    r = subprocess.run([str(d / "verilator"), "--lint-only", "-Wall", *SOURCES, "--top-module", "tb_unet"],
                       cwd=tmp_path / "after", capture_output=True, text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[-3000:]
    # a new MODE bit is kept by the register and read back
    _patch(monkeypatch, "MODE", turbo=(4, 1))
    wider = _rtl(net, tmp_path / "wider")
    assert "mode <= strobed(mode, wdata_q, wen) & 32'h1F;" in wider["unet_regs.sv"]
    assert "mode[31:5], sl_opcode[31:8]" in wider["unet_accel.sv"]


def test_generated_config_word_follows_the_description(net, tmp_path, monkeypatch):
    """At 4x16 lanes PIN and POUT differ, so swapping their fields changes the CONFIG word."""
    generate_rtl(net, tmp_path / "a", lanes=(4, 16))
    _patch(monkeypatch, "CONFIG", pin=(0, 8), pout=(8, 8))
    generate_rtl(net, tmp_path / "b", lanes=(4, 16))
    a, b = ((tmp_path / d / "unet_regs.sv").read_text() for d in "ab")
    assert "BUILD_CONFIG = 32'h00050410;" in a and "BUILD_CONFIG = 32'h00051004;" in b


def test_register_facts_in_the_verilog_are_the_description(net, tmp_path):
    """Every offset, write mask and CONFIG value in the generated register block is the
    description's; no register write keeps a bit the description does not make writable."""
    regs = _rtl(net, tmp_path)["unet_regs.sv"]
    params = {m[1]: int(m[2], 16) for m in re.finditer(r"localparam \[31:0\] UNET_REG_(\w+) = 32'h([0-9A-F]+);", regs)}
    assert params == {r.name: r.offset for r in regmap.REGISTERS}
    stores = dict(re.findall(r"UNET_REG_(\w+)\[11:0\]:(?: if \(\|wstrb_q\))?(?: begin\n\s*)? \w+ <= "
                             r"(strobed\(\w+, wdata_q, wen\)(?: & 32'h[0-9A-F]+)?);", regs))
    for name, expr in stores.items():
        mask = int(expr.split("32'h")[1], 16) if "&" in expr else 0xFFFFFFFF
        assert mask == regmap.write_mask(name), f"{name}: the Verilog keeps {mask:#x}"
    assert set(stores) == {r.name for r in regmap.REGISTERS if r.access == "rw"} - {"GIE", "IER"}
    assert f"BUILD_CONFIG = 32'h{regmap.pack('CONFIG', pin=8, pout=8, weight_bits=5):08X};" in regs
    # the offsets that answer OKAY: every register reads, those with writable bits take writes
    assert _decoded(regs, "mapped") == [r.name for r in regmap.REGISTERS]
    assert _decoded(regs, "writable") == list(regmap.writable()) == [
        r.name for r in regmap.REGISTERS if r.access != "ro"]


def _decoded(regs: str, function: str) -> list[str]:
    """The registers the Verilog function `function` (mapped / writable) of unet_regs answers 1 for."""
    body = re.search(rf"function {function}\(.*?endfunction", regs, re.S)[0]
    return re.findall(r"UNET_REG_(\w+)\[11:2\]", body)


def test_error_responses_follow_the_description(net, tmp_path, monkeypatch):
    """A register made read-only in the description answers SLVERR to writes in the generated
    Verilog; a new register is decoded (reads OKAY) and, when writable, takes writes."""
    regs = dataclasses.replace(regmap.by_name("GIE"), access="ro")
    extra = regmap.Register(0x0E0, "SCRATCH", "rw", (regmap.Field("value", 0, 32),))
    monkeypatch.setattr(regmap, "REGISTERS", tuple(regs if r.name == "GIE" else r for r in regmap.REGISTERS)
                        + (extra,))
    text = _rtl(net, tmp_path)["unet_regs.sv"]
    assert "GIE" not in _decoded(text, "writable") and "GIE" in _decoded(text, "mapped")
    assert "SCRATCH" in _decoded(text, "writable") and "SCRATCH" in _decoded(text, "mapped")
    assert "localparam [31:0] UNET_REG_SCRATCH = 32'h000000E0;" in text
