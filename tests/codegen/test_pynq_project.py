"""BUILD/pynq (the PYNQ-Z2 block design, the bitstream script, the generated hardware handoff,
unet_accel.json) and BUILD/rtl/package_ip.tcl, checked without Vivado.

Every Vivado script runs under Tcl's own shell with Vivado's commands stubbed (vivado_stubs: a
command no stub defines, a wrong variable, unbalanced braces fail the run), from a folder other
than its own: build_bitstream.tcl sources package_ip.tcl and pynq_z2_bd.tcl, so one run covers the
three. The bus interfaces the stubbed ipx::package_project "infers" are the IP top's own
X_INTERFACE attributes (unet_accel_ip.v), so the script's checks are checked against the real
top. The .hwh is parsed and held against the IP top's module header, the spec's address map and the
register map. Torch-free."""
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from unetaccel import __version__
from unetaccel.codegen import generate, regmap
from unetaccel.codegen import pynq_project as pp
from unetaccel.codegen.pynq_project import (ACCEL, DMA, INTC, PS7, PynqError, dma_length_bits, emit_pynq,
                                            generate_pynq, ip_version, vlnv)
from unetaccel.ir import randnet
from unetaccel.tools import ToolMissing

from vivado_stubs import complete, inferred_interfaces, module_ports, run_script

SPEC_MAP = {DMA: ("S_AXI_LITE", 0x4040_0000), ACCEL: ("s_axi_control", 0x43C0_0000), INTC: ("s_axi", 0x4180_0000)}
MEM_4445 = "CRITICAL WARNING: [Synth 8-4445] could not open $readmem data file 'weights_0.mem'; please make sure"


@pytest.fixture(scope="module")
def net():
    return randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 16), seed=7)


@pytest.fixture(scope="module")
def build(tmp_path_factory, net):
    """BUILD (hls, rtl, fsic, pynq) of a small random network, generated as `unetaccel generate` does."""
    out = tmp_path_factory.mktemp("pynq") / "BUILD"
    generate(net, out, lanes=(8, 4))
    top = out / "rtl" / pp.IP_TOP_FILE
    assert top.is_file(), f"the IP top {top.name} is not generated (codegen.rtl_project writes it)"
    return out


@pytest.fixture(scope="module")
def top(build):
    return module_ports((build / "rtl" / pp.IP_TOP_FILE).read_text(), pp.IP_TOP)


def _inference(top):
    """The stubs' view of ipx::package_project's inference: interface names and, per interface,
    its bus type and mode, and the reset's polarity, from the top's X_INTERFACE attributes."""
    bis = inferred_interfaces(top)
    props = {}
    for name, bi in bis.items():
        props[("BUS_TYPE_VLNV", f"bi:{name}")] = bi["bus"]
        props[("INTERFACE_MODE", f"bi:{name}")] = bi["mode"]
        if "POLARITY" in bi["params"]:
            props[("VALUE", f"bp:POLARITY:bi:{name}")] = bi["params"]["POLARITY"]
    return list(bis), props


def _bitstream_run(build, tmp_path, top, synth_log="synth_1 done", hls=False, copy=True):
    """build_bitstream.tcl of a copy of BUILD (it writes there: the IP repository, the bitstream),
    run from another folder; (the run, the copy)."""
    busifs, props = _inference(top)
    if copy:
        shutil.copytree(build, tmp_path / "BUILD", ignore=shutil.ignore_patterns("sim_build", "*.lock"))
        build = tmp_path / "BUILD"
    return run_script(build / "pynq" / "build_bitstream.tcl", tmp_path / "elsewhere", catalog=[vlnv(hls)],
                      busifs=busifs, props=props, synth_log=synth_log), build


def _files_named(run, folder: Path) -> list[str]:
    """The generated files a run read or added (read_verilog, add_files), each an existing file of
    `folder`; their names."""
    names = []
    for call in run.named("read_verilog") + run.named("add_files"):
        for word in call:
            if word.startswith("-"):
                continue
            p = Path(word)
            if p.parent == folder:
                assert p.is_file(), f"{word}: named by a script, not generated"
                names.append(p.name)
    return names


# ---- the scripts as Tcl


def test_every_tcl_script_is_complete(build):
    scripts = sorted(build.rglob("*.tcl"))
    names = {str(p.relative_to(build)) for p in scripts}
    assert {"rtl/vivado.tcl", "rtl/package_ip.tcl", "hls/run_hls.tcl", "pynq/pynq_z2_bd.tcl",
            "pynq/build_bitstream.tcl"} <= names
    assert [str(p.relative_to(build)) for p in scripts if not complete(p)] == []


def test_an_unbalanced_script_is_not_complete(build, tmp_path):
    text = (build / "pynq" / "pynq_z2_bd.tcl").read_text()
    bad = tmp_path / "bad.tcl"
    bad.write_text(text.replace("proc unet_assign {pin offset range} {", "proc unet_assign {pin offset range} {{", 1))
    assert not complete(bad)


def test_a_broken_script_fails_under_the_stubs(build, tmp_path, top):
    """The harness catches what `info complete` cannot: an unknown command or variable."""
    bad = tmp_path / "bad.tcl"
    text = (build / "pynq" / "pynq_z2_bd.tcl").read_text()
    for broken in (text.replace("$design_name", "$design_nam", 1), text.replace("save_bd_design", "save_bd_desing")):
        bad.write_text(broken)
        run = run_script(bad, tmp_path / "w", catalog=[vlnv()])
        assert run.returncode != 0 and "ERROR" in run.stderr


# ---- build_bitstream.tcl (+ package_ip.tcl + pynq_z2_bd.tcl)


def test_build_bitstream_runs_every_step_and_names_only_generated_files(build, tmp_path, top):
    assert not (build / "pynq" / "unet.bit").exists()
    run, build = _bitstream_run(build, tmp_path, top)
    assert run.returncode == 0, run.stderr
    rtl = build / "rtl"
    named = _files_named(run, rtl)
    generated = {p.name for p in rtl.iterdir() if p.is_file()}
    mems = sorted(p for p in generated if p.endswith(".mem"))
    sv = sorted(p for p in generated if p.endswith(".sv") and p != "tb_unet.sv")
    assert sorted(named) == sorted([pp.IP_TOP_FILE, *sv, *mems])
    # the steps, in order
    order = [c[0] for c in run.calls]
    steps = ["ipx::package_project", "ipx::save_core", "close_project", "create_project", "update_ip_catalog",
             "create_bd_design", "validate_bd_design", "save_bd_design", "make_wrapper", "generate_target",
             "launch_runs", "wait_on_run", "launch_runs", "wait_on_run", "open_run", "report_timing_summary"]
    at: list[int] = []
    for s in steps:  # each step after the one before (a ValueError if it is missing or out of order)
        at.append(order.index(s, at[-1] + 1 if at else 0))
    impl = run.named("launch_runs")[1]
    assert impl[0] == "impl_1" and impl[1:3] == ["-to_step", "write_bitstream"]
    projects = run.named("create_project")
    assert [p[p.index("-part") + 1] for p in projects] == ["xc7z020clg400-1"] * 2
    assert all(["-id", "Synth 8-4445", "-new_severity", "ERROR"] == c for c in run.named("set_msg_config"))
    assert len(run.named("set_msg_config")) == 2  # the IP's project and the bitstream's
    # the IP repository it adds is the one package_ip.tcl wrote
    repo = (rtl / pp.RTL_IP_REPO).resolve()
    assert ["ip_repo_paths", str(repo), "unet_project"] in run.named("set_property")
    assert (repo / "component.xml").is_file()
    # the bitstream and Vivado's handoff copied beside the driver
    assert (build / "pynq" / "unet.bit").read_text() == "bit\n"
    assert (build / "pynq" / "unet.hwh").read_text() == "<vivado-hwh/>\n"


def test_generate_keeps_vivado_handoff_beside_its_bitstream(build, net, tmp_path, top):
    """After a bitstream build, regenerating keeps Vivado's unet.hwh (it describes that bitstream);
    without a bitstream, ours is written."""
    pynq = tmp_path / "pynq"
    generate_pynq(net, pynq)
    assert pp.HWH_MARK in (pynq / "unet.hwh").read_text()
    (pynq / "unet.hwh").write_text("<vivado-hwh/>\n")
    (pynq / "unet.bit").write_text("bit\n")
    generate_pynq(net, pynq)
    assert (pynq / "unet.hwh").read_text() == "<vivado-hwh/>\n"
    (pynq / "unet.bit").unlink()
    generate_pynq(net, pynq)
    assert pp.HWH_MARK in (pynq / "unet.hwh").read_text()


def test_missing_memory_image_stops_the_build_naming_it(build, tmp_path, top):
    run, _ = _bitstream_run(build, tmp_path, top, synth_log=MEM_4445)
    assert run.returncode != 0 and "weights_0.mem" in run.stderr and "memory image" in run.stderr
    assert not run.named("launch_runs")[1:]  # no implementation


def test_package_ip_checks_its_files_and_the_inferred_interfaces(build, tmp_path, top):
    rtl_copy = tmp_path / "rtl"
    shutil.copytree(build / "rtl", rtl_copy, ignore=shutil.ignore_patterns("sim_build", "ip_repo", "ip_prj"))
    busifs, props = _inference(top)
    assert sorted(busifs) == ["ap_clk", "ap_rst_n", "interrupt", "m_axis", "s_axi_control", "s_axis"]
    run = run_script(rtl_copy / "package_ip.tcl", tmp_path / "a", busifs=busifs, props=props)
    assert run.returncode == 0, run.stderr
    (pkg,) = run.named("ipx::package_project")
    opt = dict(zip(pkg[::1], pkg[1::1]))
    assert opt["-vendor"] == "unetaccel" and opt["-library"] == "unet" and "-import_files" in pkg
    assert ["name", "unet_accel", "core"] in run.named("set_property")
    assert ["version", ip_version(__version__), "core"] in run.named("set_property")
    assert ["top", pp.IP_TOP, "sources_1"] in run.named("set_property")
    # every memory image is an IP file of both file groups, and in the IP's src/
    mems = sorted(p.name for p in rtl_copy.glob("*.mem"))
    added = run.named("ipx::add_file")
    for group in ("xilinx_anylanguagesynthesis", "xilinx_anylanguagebehavioralsimulation"):
        assert sorted(Path(rel).name for rel, fg in added if fg == f"fg:{group}") == mems
    assert sorted(p.name for p in (rtl_copy / pp.RTL_IP_REPO / "src").glob("*.mem")) == mems
    # the registers' address block: 2^ADDR_BITS bytes on s_axi_control
    assert run.named("ipx::add_memory_map") == [["s_axi_control", "core"]]
    assert ["slave_memory_map_ref", "s_axi_control", "bi:s_axi_control"] in run.named("set_property")
    assert ["range", str(1 << regmap.ADDR_BITS), "ab:reg0"] in run.named("set_property")
    # a missing source, an interface the attributes do not declare, a reset of the wrong polarity
    (rtl_copy / "layers.mem").unlink()
    run = run_script(rtl_copy / "package_ip.tcl", tmp_path / "b", busifs=busifs, props=props)
    assert run.returncode != 0 and "layers.mem is missing" in run.stderr
    assert not run.named("create_project")
    shutil.copy(build / "rtl" / "layers.mem", rtl_copy)
    run = run_script(rtl_copy / "package_ip.tcl", tmp_path / "c", busifs=[b for b in busifs if b != "s_axis"],
                     props=props)
    assert run.returncode != 0 and "interface s_axis was not inferred" in run.stderr
    high = {**props, ("VALUE", "bp:POLARITY:bi:ap_rst_n"): "ACTIVE_HIGH"}
    run = run_script(rtl_copy / "package_ip.tcl", tmp_path / "d", busifs=busifs, props=high)
    assert run.returncode != 0 and "ap_rst_n is not declared active low" in run.stderr


def test_block_design(build, net, tmp_path, top):
    run, _ = _bitstream_run(build, tmp_path, top)
    assert run.returncode == 0, run.stderr
    cells = dict((name, v) for v, name in run.named("create_bd_cell"))
    assert cells == {PS7: "xilinx.com:ip:processing_system7:5.5", pp.RESET: "xilinx.com:ip:proc_sys_reset:5.0",
                     DMA: "xilinx.com:ip:axi_dma:7.1", ACCEL: vlnv(), INTC: "xilinx.com:ip:axi_intc:4.1",
                     pp.PERIPH: "xilinx.com:ip:axi_interconnect:2.1", pp.MEM: "xilinx.com:ip:axi_interconnect:2.1"}
    by = {}
    for k, v, obj in run.named("set_property_kv"):
        by.setdefault(obj, {})[k.removeprefix("CONFIG.")] = v
    ps7, dma = by[PS7], by[DMA]
    assert ps7["PCW_FPGA0_PERIPHERAL_FREQMHZ"] == "100" and ps7["PCW_USE_M_AXI_GP0"] == "1"
    assert ps7["PCW_USE_S_AXI_HP0"] == "1" and ps7["PCW_USE_FABRIC_INTERRUPT"] == "1"
    assert ps7["PCW_IRQ_F2P_INTR"] == "1" and ps7["PCW_UIPARAM_DDR_PARTNO"] == "MT41J256M16 RE-125"
    assert dma["c_include_sg"] == "0" and dma["c_sg_length_width"] == str(dma_length_bits(net))
    assert all(dma[k] == "32" for k in ("c_m_axi_mm2s_data_width", "c_m_axis_mm2s_tdata_width",
                                        "c_m_axi_s2mm_data_width", "c_s_axis_s2mm_tdata_width"))
    links = run.named("connect_bd_intf_net")
    assert [f"{DMA}/M_AXIS_MM2S", f"{ACCEL}/s_axis"] in links and [f"{ACCEL}/m_axis", f"{DMA}/S_AXIS_S2MM"] in links
    assert [f"{pp.MEM}/M00_AXI", f"{PS7}/S_AXI_HP0"] in links and [f"{PS7}/M_AXI_GP0", f"{pp.PERIPH}/S00_AXI"] in links
    nets = {c[1]: c[2:] for c in run.named("connect_bd_net")}
    assert nets[f"{ACCEL}_interrupt"] == [f"{ACCEL}/interrupt", f"{INTC}/intr"]
    assert nets[f"{INTC}_irq"] == [f"{INTC}/irq", f"{PS7}/IRQ_F2P"]
    assert f"{ACCEL}/ap_rst_n" in nets[f"{pp.RESET}_peripheral_aresetn"]
    assert f"{ACCEL}/ap_clk" in nets[f"{PS7}_FCLK_CLK0"]
    # our IP's pins are the top's ports and interfaces
    ours = {p.split("/")[1] for c in links + list(nets.values()) for p in c if p.startswith(ACCEL + "/")}
    assert ours <= set(top) | set(inferred_interfaces(top)), ours - set(top)
    # the address map: each GP0 slave at the spec's base, 64K, then the DMA's masters
    assigned = run.named("assign_bd_address")
    spec = {f"{inst}/{bi}/Reg": (f"0x{base:08X}", "64K") for inst, (bi, base) in SPEC_MAP.items()}
    got = {a[-1]: (a[a.index("-offset") + 1], a[a.index("-range") + 1]) for a in assigned if "-offset" in a}
    assert got == spec and assigned[-1] == []
    assert [c[0] for c in run.calls].count("validate_bd_design") == 1


def test_hls_block_design_needs_the_exported_ip(tmp_path, net, top):
    build = tmp_path / "BUILD"
    generate(net, build, lanes=(8, 4), pynq_hls=True)
    run, _ = _bitstream_run(build, tmp_path / "a", top, hls=True, copy=False)
    assert run.returncode != 0 and "vitis-run --mode hls --tcl run_hls.tcl" in run.stderr
    repo = build / "hls" / pp.HLS_IP_REPO
    repo.mkdir(parents=True)
    (repo / "component.xml").write_text("<stub/>")
    run, _ = _bitstream_run(build, tmp_path / "b", top, hls=True, copy=False)
    assert run.returncode == 0, run.stderr
    assert not run.named("ipx::package_project")  # ours is not packaged
    assert [vlnv(True), ACCEL] in run.named("create_bd_cell")
    assert ["ip_repo_paths", str(repo.resolve()), "unet_project"] in run.named("set_property")
    export = [ln for ln in (build / "hls" / "run_hls.tcl").read_text().splitlines() if ln.startswith("export_design")]
    assert export == ["export_design -format ip_catalog -vendor unetaccel -library hls -ipname unet_top -version "
                      + ip_version()]


# ---- the hardware handoff


def _modules(text: str) -> dict[str, ET.Element]:
    root = ET.fromstring(text)
    return {m.get("INSTANCE"): m for m in root.iter("MODULE")}


def test_hwh_memory_map_is_the_spec(build):
    mods = _modules((build / "pynq" / "unet.hwh").read_text())
    ranges = mods[PS7].findall("./MEMORYMAP/MEMRANGE")
    got = {r.get("INSTANCE"): (r.get("SLAVEBUSINTERFACE"), int(r.get("BASEVALUE"), 16), int(r.get("HIGHVALUE"), 16),
                               r.get("MEMTYPE"), r.get("MASTERBUSINTERFACE")) for r in ranges}
    assert got == {inst: (bi, base, base + 0xFFFF, "REGISTER", "M_AXI_GP0") for inst, (bi, base) in SPEC_MAP.items()}
    acc = mods[ACCEL]
    assert acc.get("VLNV") == vlnv() and acc.get("MODTYPE") == "unet_accel" and acc.get("FULLNAME") == f"/{ACCEL}"
    assert mods[DMA].get("VLNV") == "xilinx.com:ip:axi_dma:7.1"


def test_hwh_ports_are_the_ip_tops(build, top):
    """The accelerator module's ports are unet_accel_ip.v's (names, directions, widths); its bus
    interfaces are the top's X_INTERFACE interfaces with the same logical -> physical maps; the
    clock, reset and interrupt carry the top's frequency, polarity and sensitivity."""
    acc = _modules((build / "pynq" / "unet.hwh").read_text())[ACCEL]
    ports = {p.get("NAME"): p for p in acc.findall("./PORTS/PORT")}
    width = {n: int(p.get("LEFT", 0)) - int(p.get("RIGHT", 0)) + 1 for n, p in ports.items()}
    assert {n: (p.get("DIR"), width[n]) for n, p in ports.items()} == {n: (v.dir, v.width) for n, v in top.items()}
    inferred = inferred_interfaces(top)
    for bi in acc.findall("./BUSINTERFACES/BUSINTERFACE"):
        name = bi.get("NAME")
        maps = {m.get("LOGICAL"): m.get("PHYSICAL") for m in bi.iter("PORTMAP")}
        assert all(phys in top for phys in maps.values()), (name, maps)
        assert maps == inferred[name]["ports"], name
        assert bi.get("VLNV") == inferred[name]["bus"]
        assert bi.get("TYPE") == {("aximm", "slave"): "SLAVE", ("axis", "slave"): "TARGET",
                                  ("axis", "master"): "INITIATOR"}[(bi.get("VLNV").split(":")[2], inferred[name]["mode"])]
    assert sorted(b.get("NAME") for b in acc.iter("BUSINTERFACE")) == ["m_axis", "s_axi_control", "s_axis"]
    clk, rst, irq = ports["ap_clk"], ports["ap_rst_n"], ports["interrupt"]
    assert clk.get("SIGIS") == "clk" and clk.get("CLKFREQUENCY") == inferred["ap_clk"]["params"]["FREQ_HZ"]
    assert rst.get("SIGIS") == "rst" and rst.get("POLARITY") == "ACTIVE_LOW" == inferred["ap_rst_n"]["params"]["POLARITY"]
    assert irq.get("SIGIS") == "INTERRUPT" and irq.get("SENSITIVITY") == "LEVEL_HIGH"
    assert inferred["interrupt"]["params"].get("SENSITIVITY") == "LEVEL_HIGH"


def test_hwh_streams_link_the_dma_and_the_accelerator(build, net):
    mods = _modules((build / "pynq" / "unet.hwh").read_text())
    bis = {(i, b.get("NAME")): b for i, m in mods.items() for b in m.iter("BUSINTERFACE")}
    for (a, b) in ((f"{DMA}/M_AXIS_MM2S", f"{ACCEL}/s_axis"), (f"{ACCEL}/m_axis", f"{DMA}/S_AXIS_S2MM")):
        ea, eb = bis[tuple(a.split("/"))], bis[tuple(b.split("/"))]
        assert ea.get("TYPE") == "INITIATOR" and eb.get("TYPE") == "TARGET"
        assert ea.get("BUSNAME") == eb.get("BUSNAME") != "__NOC__"
        maps = {m.get("LOGICAL") for m in ea.iter("PORTMAP")}
        assert maps == {"TDATA", "TKEEP", "TVALID", "TREADY", "TLAST"}
    params = {p.get("NAME"): p.get("VALUE") for p in mods[DMA].findall("./PARAMETERS/PARAMETER")}
    for name in ("C_INCLUDE_SG", "c_include_sg"):
        assert params[name] == "0"
    for name in ("C_SG_LENGTH_WIDTH", "c_sg_length_width"):
        assert params[name] == str(dma_length_bits(net))
    assert params["c_m_axi_mm2s_data_width"] == params["c_m_axi_s2mm_data_width"] == "32"


def test_hwh_connections_are_consistent(build):
    """Every CONNECTION names an instance and a port that exist and connects back, an output to an
    input (as Vivado lists a net: its driver to each load, a load to its driver; PYNQ's metadata
    parser refuses two inputs connected); the ports of a connection share its SIGNAME; the
    interrupt reaches IRQ_F2P through the controller."""
    mods = _modules((build / "pynq" / "unet.hwh").read_text())
    ports = {(i, p.get("NAME")): p for i, m in mods.items() for p in m.findall("./PORTS/PORT")}
    for (inst, name), p in ports.items():
        for c in p.iter("CONNECTION"):
            other = ports.get((c.get("INSTANCE"), c.get("PORT")))
            assert other is not None, (inst, name, c.attrib)
            assert other.get("SIGNAME") == p.get("SIGNAME")
            assert {p.get("DIR"), other.get("DIR")} == {"I", "O"}, (inst, name, c.attrib)
            assert (inst, name) in {(x.get("INSTANCE"), x.get("PORT")) for x in other.iter("CONNECTION")}
    assert ports[(ACCEL, "interrupt")].get("SIGNAME") == ports[(INTC, "intr")].get("SIGNAME")
    assert ports[(INTC, "irq")].get("SIGNAME") == ports[(PS7, "IRQ_F2P")].get("SIGNAME")
    ps_params = {p.get("NAME"): p.get("VALUE") for p in mods[PS7].findall("./PARAMETERS/PARAMETER")}
    assert ps_params["PCW_FPGA_FCLK0_ENABLE"] == "1"
    assert 1000 / int(ps_params["PCW_FCLK0_PERIPHERAL_DIVISOR0"]) / int(ps_params["PCW_FCLK0_PERIPHERAL_DIVISOR1"]) == 100
    assert 50 * int(ps_params["PCW_IOPLL_CTRL_FBDIV"]) == 1000


def test_hwh_register_block_is_the_register_map(build):
    acc = _modules((build / "pynq" / "unet.hwh").read_text())[ACCEL]
    regs = {r.get("NAME"): int(r.find("./PROPERTY[@NAME='ADDRESS_OFFSET']").get("VALUE"))
            for r in acc.iter("REGISTER")}
    assert regs == {r.name: r.offset for r in regmap.REGISTERS}


# ---- unet_accel.json and the numbers


def test_deployment_json(build, net):
    dep = json.loads((build / "pynq" / "unet_accel.json").read_text())
    c, h, w = net.tensors[net.input].shape
    k = net.num_classes
    assert dep == {"format": "unetaccel-pynq", "version": 1, "ip": "rtl", "vlnv": vlnv(), "instance": ACCEL,
                   "dma": DMA, "input_shape": [h, w, c], "num_classes": k, "in_bytes": h * w * c,
                   "class_bytes": h * w, "logit_bytes": h * w * k, "lanes": [8, 4], "clock_mhz": 100,
                   "dma_length_bits": dma_length_bits(net),
                   "registers": {r.name: r.offset for r in regmap.REGISTERS}, "ir": "model.json",
                   "bitstream": "unet.bit"}


def test_hls_registers_are_the_vitis_header(build, net):
    """With --hls, unet_accel.json's registers are the HLS core's map, as BUILD/hls/unet_hls_regmap.h
    defines it (UNET_HLS_REG_*)."""
    dep = json.loads(emit_pynq(net, (8, 4), hls=True)["unet_accel.json"])
    assert dep["ip"] == "hls" and dep["vlnv"] == "unetaccel:hls:unet_top:" + ip_version()
    header = (build / "hls" / "unet_hls_regmap.h").read_text()
    defined = {m.group(1): int(m.group(2), 16) for m in re.finditer(r"#define UNET_HLS_REG_(\w+)\s+0x([0-9A-F]+)u",
                                                                     header)}
    assert dep["registers"] == defined
    acc = _modules(emit_pynq(net, (8, 4), hls=True)["unet.hwh"])[ACCEL]
    assert acc.get("MODTYPE") == "unet_top"
    names = {p.get("NAME") for p in acc.iter("PORT")}
    assert {"s_axis_TSTRB", "m_axis_TSTRB", "s_axis_TKEEP", "ap_rst_n", "interrupt"} <= names  # hls::axis
    addr = int(next(p.get("LEFT") for p in acc.iter("PORT") if p.get("NAME") == "s_axi_control_AWADDR")) + 1
    assert (1 << addr) > max(defined.values())


@pytest.mark.parametrize("size,classes,bits", [((8, 8), 3, 14), ((64, 64), 21, 17), ((128, 128), 2, 16)])
def test_dma_length_bits(size, classes, bits):
    ir = randnet.random_unet(widths=(4, 8), num_classes=classes, size=size, seed=1)
    assert dma_length_bits(ir) == bits
    largest = max(size[0] * size[1] * 3, size[0] * size[1] * classes)
    assert (1 << bits) - 1 >= largest and (bits == 14 or (1 << (bits - 1)) - 1 < largest)


def test_dma_length_beyond_26_bits_is_refused(monkeypatch, net):
    monkeypatch.setattr(pp, "transfers", lambda ir: {"in_bytes": 1 << 26, "class_bytes": 1, "logit_bytes": 1})
    with pytest.raises(PynqError, match="26 bits"):
        dma_length_bits(net)


def test_versions_and_determinism(net):
    assert ip_version("0.1.0") == "0.1" and ip_version("2.13.4.dev1") == "2.13" and ip_version("3") == "3.0"
    assert vlnv() == f"unetaccel:unet:unet_accel:{ip_version(__version__)}"
    assert emit_pynq(net, (8, 4)) == emit_pynq(net, (8, 4))
    assert list(emit_pynq(net, (8, 4))) == list(pp.FILES)


def test_tclsh_missing_is_a_failure_naming_the_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    from unetaccel import tools
    with pytest.raises(ToolMissing, match=r"apt-get install -y tcl"):
        tools.tclsh()
