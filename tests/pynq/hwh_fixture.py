"""A minimal BUILD/pynq for tests, written here until the generator (codegen.pynq_project, issue 22)
lands: unet.hwh in Vivado's .hwh structure (only what the simulated board and PYNQ's parser read)
and unet_accel.json as the spec describes it."""
from __future__ import annotations

import json
from pathlib import Path

from unetaccel.codegen import regmap

AXIL = ["AWADDR", "AWVALID", "AWREADY", "WDATA", "WSTRB", "WVALID", "WREADY", "BRESP", "BVALID", "BREADY",
        "ARADDR", "ARVALID", "ARREADY", "RDATA", "RRESP", "RVALID", "RREADY"]
AXIS = ["TDATA", "TKEEP", "TVALID", "TREADY", "TLAST"]


def _bus(name, busname, kind, vlnv, logical, prefix):
    maps = "".join(f'<PORTMAP LOGICAL="{p}" PHYSICAL="{prefix}_{p}"/>' for p in logical)
    return (f'<BUSINTERFACE BUSNAME="{busname}" DATAWIDTH="32" NAME="{name}" TYPE="{kind}" VLNV="{vlnv}">'
            f'<PORTMAPS>{maps}</PORTMAPS></BUSINTERFACE>')


def hwh(length_bits: int = 14, vlnv: str = "unetaccel:unet:unet_accel:0.1") -> str:
    mm, axis = "xilinx.com:interface:aximm:1.0", "xilinx.com:interface:axis:1.0"
    dma_params = {"C_SG_LENGTH_WIDTH": length_bits, "c_sg_length_width": length_bits, "c_include_sg": 0,
                  "c_include_mm2s": 1, "c_include_s2mm": 1, "c_m_axi_mm2s_data_width": 32,
                  "c_m_axi_s2mm_data_width": 32, "c_m_axis_mm2s_tdata_width": 32, "c_s_axis_s2mm_tdata_width": 32,
                  "c_include_mm2s_dre": 0, "c_include_s2mm_dre": 0, "c_micro_dma": 0}
    params = "".join(f'<PARAMETER NAME="{k}" VALUE="{v}"/>' for k, v in dma_params.items())
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no" ?>
<EDKSYSTEM EDWVERSION="1.2" TIMESTAMP="test" VIVADOVERSION="2022.1">
  <SYSTEMINFO ARCH="zynq" BOARD="tul.com.tw:pynq-z2:part0:1.0" DEVICE="7z020" NAME="unet_bd" PACKAGE="clg400" SPEEDGRADE="-1"/>
  <MODULES>
    <MODULE FULLNAME="/axi_dma_0" INSTANCE="axi_dma_0" IPTYPE="PERIPHERAL" MODTYPE="axi_dma" VLNV="xilinx.com:ip:axi_dma:7.1">
      <PARAMETERS>{params}</PARAMETERS>
      <BUSINTERFACES>
        {_bus("M_AXIS_MM2S", "axi_dma_0_M_AXIS_MM2S", "INITIATOR", axis, AXIS, "m_axis_mm2s")}
        {_bus("S_AXIS_S2MM", "unet_accel_0_m_axis", "TARGET", axis, AXIS, "s_axis_s2mm")}
      </BUSINTERFACES>
    </MODULE>
    <MODULE FULLNAME="/processing_system7_0" INSTANCE="processing_system7_0" IPTYPE="PERIPHERAL" MODTYPE="processing_system7" VLNV="xilinx.com:ip:processing_system7:5.5">
      <PARAMETERS><PARAMETER NAME="PCW_FPGA0_PERIPHERAL_FREQMHZ" VALUE="100"/></PARAMETERS>
      <MEMORYMAP>
        <MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_BASEADDR" BASEVALUE="0x40400000" HIGHNAME="C_HIGHADDR" HIGHVALUE="0x4040FFFF" INSTANCE="axi_dma_0" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="S_AXI_LITE"/>
        <MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_S_AXI_CONTROL_BASEADDR" BASEVALUE="0x43C00000" HIGHNAME="C_S_AXI_CONTROL_HIGHADDR" HIGHVALUE="0x43C0FFFF" INSTANCE="unet_accel_0" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi_control"/>
        <MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_BASEADDR" BASEVALUE="0x41800000" HIGHNAME="C_HIGHADDR" HIGHVALUE="0x4180FFFF" INSTANCE="axi_intc_0" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="s_axi"/>
      </MEMORYMAP>
    </MODULE>
    <MODULE FULLNAME="/axi_intc_0" INSTANCE="axi_intc_0" IPTYPE="PERIPHERAL" MODTYPE="axi_intc" VLNV="xilinx.com:ip:axi_intc:4.1">
      <PARAMETERS/>
    </MODULE>
    <MODULE FULLNAME="/unet_accel_0" INSTANCE="unet_accel_0" IPTYPE="PERIPHERAL" MODTYPE="unet_accel" VLNV="{vlnv}">
      <PARAMETERS/>
      <PORTS>
        <PORT CLKFREQUENCY="100000000" DIR="I" NAME="ap_clk" SIGIS="clk" SIGNAME="processing_system7_0_FCLK_CLK0"/>
        <PORT DIR="I" NAME="ap_rst_n" POLARITY="ACTIVE_LOW" SIGIS="rst" SIGNAME="rst_ps7_0_100M_peripheral_aresetn"/>
        <PORT DIR="O" NAME="interrupt" SENSITIVITY="LEVEL_HIGH" SIGIS="INTERRUPT" SIGNAME="unet_accel_0_interrupt"/>
      </PORTS>
      <BUSINTERFACES>
        {_bus("s_axi_control", "ps7_0_axi_periph_M00_AXI", "SLAVE", mm, AXIL, "s_axi_control")}
        {_bus("s_axis", "axi_dma_0_M_AXIS_MM2S", "SLAVE", axis, AXIS, "s_axis")}
        {_bus("m_axis", "unet_accel_0_m_axis", "MASTER", axis, AXIS, "m_axis")}
      </BUSINTERFACES>
    </MODULE>
  </MODULES>
</EDKSYSTEM>
"""


def write_pynq(build: Path, net, lanes=(8, 8), ir_name="model.json", length_bits: int = 14) -> Path:
    out = Path(build) / "pynq"
    out.mkdir(parents=True, exist_ok=True)
    (out / "unet.hwh").write_text(hwh(length_bits))
    h, w = net.size
    c, k = net.in_channels, net.num_classes
    (out / "unet_accel.json").write_text(json.dumps({
        "format": "unetaccel-pynq", "version": 1, "ip": "rtl", "vlnv": "unetaccel:unet:unet_accel:0.1",
        "instance": "unet_accel_0", "dma": "axi_dma_0", "input_shape": [h, w, c], "num_classes": k,
        "in_bytes": h * w * c, "class_bytes": h * w, "logit_bytes": h * w * k, "lanes": list(lanes),
        "clock_mhz": 100, "dma_length_bits": length_bits,
        "registers": {r.name: r.offset for r in regmap.REGISTERS}, "ir": ir_name, "bitstream": "unet.bit"}, indent=1))
    return out / "unet.bit"
