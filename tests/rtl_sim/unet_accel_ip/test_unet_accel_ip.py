"""The IP's top, unet_accel_ip.v: Verilog-2001 (Icarus parses it as such), every interface
attribute names a port that exists and the interfaces Vivado needs, the reset is active low
(simulated), and an image goes through its ports exact, under Icarus (four-state)."""
import subprocess

import pytest

from unetaccel.codegen.ip import IP_TOP_FILE
from unetaccel.codegen.rtl_project import generate_rtl
from unetaccel.ir import randnet
from unetaccel.rtl_sim.runner import run_unit
from unetaccel.tools import iverilog
from verilog_ports import inferred_interfaces, module_ports  # tests/verilog_ports.py

SOURCES = [IP_TOP_FILE, "unet_accel.sv", "unet_regs.sv", "unet_core.sv"]
@pytest.fixture(scope="module")
def ip_rtl(tmp_path_factory):
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=77)
    out = tmp_path_factory.mktemp("ip") / "rtl"
    generate_rtl(net, out, lanes=(8, 8))
    return out


def test_interface_attributes_name_real_ports(ip_rtl):
    ports = module_ports((ip_rtl / IP_TOP_FILE).read_text(), "unet_accel_ip")
    ifs = inferred_interfaces(ports)
    infos = {name: bi["ports"] for name, bi in ifs.items()}  # interface -> {logical: port}
    assert all(p in ports for logical in infos.values() for p in logical.values())
    assert set(infos) == {"ap_clk", "ap_rst_n", "s_axi_control", "s_axis", "m_axis", "interrupt"}, infos
    # every port belongs to an interface; an interface's ports share its name as their prefix
    assert sorted(p for i in infos.values() for p in i.values()) == sorted(ports)
    for iface, logical in infos.items():
        for name, port in logical.items():
            assert port == iface or port == f"{iface}_{name}", (iface, name, port)
    assert set(infos["s_axi_control"]) == {"AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY",
                                           "BRESP", "BVALID", "BREADY", "ARADDR", "ARVALID", "ARREADY", "RDATA",
                                           "RRESP", "RVALID", "RREADY"}
    for s in ("s_axis", "m_axis"):
        assert set(infos[s]) == {"TDATA", "TKEEP", "TVALID", "TREADY", "TLAST"}
    params = {p.name: p.param for p in ports.values() if p.param}
    assert params["ap_rst_n"] == "POLARITY ACTIVE_LOW"
    assert params["interrupt"] == "SENSITIVITY LEVEL_HIGH"
    clk = ifs["ap_clk"]["params"]
    assert set(clk["ASSOCIATED_BUSIF"].split(":")) == {"s_axi_control", "s_axis", "m_axis"}
    assert clk["ASSOCIATED_RESET"] == "ap_rst_n" and clk["FREQ_HZ"] == "100000000"
    for value in params.values():
        if value.startswith("XIL_INTERFACENAME"):
            assert value.split(",")[0].split()[1] in infos
    assert ports["ap_rst_n"].dir == "I" and ports["interrupt"].dir == "O"


def test_ip_top_is_verilog_2001(ip_rtl, tmp_path):
    """iverilog -g2001 compiles the IP top against a stub of unet_accel with its ports (the SV
    inside is not Vivado's business at the module-reference boundary)."""
    inner = module_ports((ip_rtl / "unet_accel.sv").read_text(), "unet_accel")
    stub = ["module unet_accel #(parameter integer SLVERR = 0) ("]
    stub += [",\n".join(f"    {'input' if p.dir == 'I' else 'output'} wire [{p.width - 1}:0] {p.name}"
                         for p in inner.values()), ");"]
    stub += [f"    assign {p.name} = 0;" for p in inner.values() if p.dir == "O"] + ["endmodule"]
    (tmp_path / "stub.v").write_text("\n".join(stub) + "\n")
    r = subprocess.run([iverilog(), "-g2001", "-o", str(tmp_path / "a.vvp"), "-s", "unet_accel_ip",
                        str(ip_rtl / IP_TOP_FILE), str(tmp_path / "stub.v")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_ip_lint_clean(ip_rtl):
    """verilator --lint-only -Wall on the IP top and the accelerator: clean but for the port name
    `interrupt` (Vitis' name, a C++ word to Verilator: SYMRSVDWORD)."""
    from unetaccel.tools import ensure_verilator_on_path
    bindir = ensure_verilator_on_path()
    r = subprocess.run([str(bindir / "verilator"), "--lint-only", "-Wall", "-Wno-SYMRSVDWORD", "--top-module",
                        "unet_accel_ip", *SOURCES], cwd=ip_rtl, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def test_ip_under_icarus(small):
    """tb_ip: the reset is active low; a class map and the logits through the IP's ports."""
    p, build, imgs = small
    failures = run_unit(p, build, "unet_accel_ip", SOURCES, "unetaccel.rtl_sim.tb_ip", images=imgs[:1],
                        simulator="icarus")
    assert failures == [], failures
