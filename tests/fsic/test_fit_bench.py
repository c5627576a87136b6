"""benchmarks/bench_fsic_fit.py without its synthesis: the board's source list built from FSIC's own
board script (every entry a file of the checkout or one of the example user project's, replaced by
ours), the top module joining the block design's cells as its nets do, the whole design elaborated
by Yosys (`hierarchy -check`, a few seconds), and the counting of a `stat` report."""
import importlib
import re
import sys
from pathlib import Path

import pytest

from unetaccel.codegen.fsic_project import RTL_FILES, generate_fsic
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.ir import randnet

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("bench_fsic_fit")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def prepared(bench, fsic_root, tmp_path_factory):
    build = tmp_path_factory.mktemp("fit")
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=5)
    generate_rtl(net, build / "rtl", lanes=(4, 4))
    generate_fsic(net, build / "fsic", lanes=(4, 4))
    return build, bench.prepare(fsic_root, build)


def test_every_board_entry_is_a_file_or_replaced_by_ours(bench, fsic_root, prepared):
    build, prep = prepared
    src = prep["src"]
    tcl = (fsic_root / bench.BOARD_TCL).read_text()
    entries = bench.board_entries(tcl)
    assert len(entries) > 50 and any(e.endswith("caravel.v") for e in entries)
    assert set(src["entries"]) == set(entries)
    for e, where in src["entries"].items():
        if e.startswith(bench.USER_PRJ0_DIR):
            assert where == "replaced", e
        else:
            assert Path(where).is_file() and Path(where) == fsic_root / "vivado" / e, e
    assert any(e.endswith("user_prj0/rtl/user_prj0.v") for e in src["replaced"])
    read = [p for p, _ in src["sources"]]
    assert all(p.is_file() for p in read + src["headers"])
    for f in RTL_FILES:  # ours in place of the example
        assert (build / "fsic" / f).resolve() in read, f
    assert not any("concat_EdgeDetect" in str(p) or p.name == "spram.v" for p in read)
    # the global includes (FSIC's defines: USER_PROJECT_SIDEBAND_SUPPORT) are read first, apart
    assert [h.name for h in src["headers"]] == ["user_defines.v", "defines.v", "fsic_defines.v"]
    assert "USER_PROJECT_SIDEBAND_SUPPORT" in src["headers"][-1].read_text()
    assert src["hls_ips"] == ["caravel_ps", "output_pin"]
    # a patched copy stands in for each file Yosys cannot read as it is, never the checkout's own
    for name in bench.PATCHES:
        copies = [p for p in read if p.name == name]
        assert len(copies) == 1 and "patched" in copies[0].parts, name


def test_the_top_joins_the_cells_as_the_block_design_does(bench, fsic_root, prepared):
    _, prep = prepared
    text = (prep["fit"] / f"{bench.TOP}.v").read_text()
    inst = {cell: re.search(rf"\b{mod} {cell} \((.*?)\n    \);", text, re.S).group(1)
            for cell, mod in bench.CELLS.items()}

    def net_of(cell, pin):
        return re.search(rf"\.{pin}\((\w+)\)", inst[cell]).group(1)

    # the pads: Caravel's outputs into ps_axil, ps_axil's into Caravel, one wire each
    assert net_of("caravel_0", "mprj_o") == net_of("ps_axil_0", "caravel_mprj_in")
    assert net_of("ps_axil_0", "caravel_mprj_out") == net_of("caravel_0", "mprj_i")
    assert re.search(rf"^\s+wire \[37:0\] {net_of('caravel_0', 'mprj_o')};", text, re.M)
    assert net_of("output_pin_0", "outpin") == net_of("caravel_0", "resetb")
    assert net_of("caravel_0", "flash_io0") == net_of("spiflash_0", "io0")
    # one clock for all (clk_wiz_0's clk_out1), an input of the top
    clk = net_of("caravel_0", "clock")
    assert clk == net_of("ps_axil_0", "axi_clk") == net_of("spiflash_0", "ap_clk")
    assert re.search(rf"^\s+input wire {clk},?$", text, re.M)
    # every pin of the block design's nets among our cells is connected to its net
    tcl = (fsic_root / bench.BOARD_TCL).read_text()
    for net, pins in bench.bd_nets(tcl):
        for cell, pin in pins:
            if cell in bench.CELLS:
                assert net_of(cell, pin) == net, (net, cell, pin)
    # the other ports are the top's (the AXI-Lite control of ps_axil, its user-DMA streams)
    assert re.search(r"^\s+input wire \[6:0\] ps_axil_0_updma_si_tuser,$", text, re.M)


def test_the_whole_design_elaborates(bench, prepared):
    build, prep = prepared
    rtl = (build / "rtl").resolve()
    script = bench.synth_script(prep["src"], rtl, prep["fit"], check_only=True)
    assert script.endswith(f"hierarchy -check -top {bench.TOP}")
    bench.run_yosys(script, rtl, prep["fit"] / "check.log", "yosys hierarchy -check")
    log = (prep["fit"] / "check.log").read_text()
    assert f"Top module:  \\{bench.TOP}" in log
    used = set(re.findall(r"^Used module:\s+\\?(\S+)", log, re.M))
    for mod in ("USER_PRJ0", "unet_accel", "unet_core", "caravel", "ps_axil", "spiflash", "caravel_ps", "output_pin",
                "VexRiscv", "mgmt_core"):
        assert any(u == mod or u.endswith("\\" + mod) for u in used), (mod, sorted(used))


STAT = """
72. Printing statistics.

=== $paramod$1d19976cbf7f78890479ef55abed1b8ed2627657\\USER_PRJ0 ===

        +----------Local Count, excluding submodules.
        |
    21664 wires
       38 ports
      125 cells
        3   $scopeinfo
        1   CARRY4
        3   DSP48E1
       10   FDRE
        5   INV
      100   LUT6
        4   RAM64M
        3   RAMB18E1
        2   RAMB36E1
        2   SRL16E

=== caravel ===

        +----------Local Count, excluding submodules.
        |
      500 cells
        3   BUFG
        7   FDCE
        1   FDCE_1
       50   LUT3
        5   LDCE
        1   RAMB18E1
        1 submodules
        1   $paramod$1d19976cbf7f78890479ef55abed1b8ed2627657\\USER_PRJ0

=== ps_axil ===

        +----------Local Count, excluding submodules.
        |
        9   LUT2
        2   FDPE

=== spiflash ===

        1   LUT1

=== fsic_fit_top ===

        +----------Local Count, excluding submodules.
        |
        2 submodules
        1   caravel
        1   ps_axil

=== design hierarchy ===

        +----------Count including submodules.
        |
      160   LUT6
"""


def test_counting(bench):
    mods = bench.stat_modules(STAT)
    rows = bench.parts(mods)
    ours = rows["ours (USER_PRJ0)"]
    # LUT: 100 logic + 5 INV + 4 RAM64M x 4 + 2 SRLs; RAMB36: 2 + 3 / 2
    assert (ours["LUT"], ours["FF"], ours["DSP48E1"], ours["RAMB36"]) == (123, 10, 3, 3.5)
    car = rows["Caravel without ours"]
    assert (car["LUT"], car["FF"], car["RAMB36"]) == (50, 13, 0.5)  # latches and negative-edge FFs count
    assert rows["ps_axil"]["LUT"] == 9 and rows["ps_axil"]["FF"] == 2
    assert rows["caravel_ps, output_pin, spiflash (HLS / module IPs)"]["LUT"] == 1
    with pytest.raises(SystemExit, match="does not place: mystery"):
        bench.parts({**mods, "mystery": {"LUT1": 1}})
