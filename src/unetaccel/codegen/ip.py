"""The accelerator as a Vivado IP: its identity (VLNV), its top, its clock and where the IP
repositories are. One place for what BUILD/rtl (unet_accel_ip.v, package_ip.tcl), BUILD/hls
(run_hls.tcl's export_design) and BUILD/pynq (the block design, unet.hwh, unet_accel.json) share,
and what the PYNQ driver binds to (unetaccel.pynq)."""
from __future__ import annotations

from .. import __version__
from . import regmap

VENDOR = "unetaccel"
RTL_LIBRARY, RTL_NAME = "unet", "unet_accel"
HLS_LIBRARY, HLS_NAME = "hls", "unet_top"
#: The RTL IP's top module and file (Verilog-2001 around the SystemVerilog unet_accel; BUILD/rtl):
#: Vitis HLS's port names, active-low ap_rst_n, Vivado's interface attributes.
IP_TOP, IP_TOP_FILE = "unet_accel_ip", "unet_accel_ip.v"
#: The IP's clock (its X_INTERFACE_PARAMETER FREQ_HZ): the PYNQ-Z2 design's FCLK_CLK0.
CLOCK_MHZ = 100
CLOCK_HZ = CLOCK_MHZ * 1_000_000
#: Where package_ip.tcl puts the packaged RTL IP (the IP repository), relative to BUILD/rtl.
RTL_IP_REPO = "ip_repo"
#: The Vivado version the scripts follow (no Vivado run has confirmed them here).
VIVADO_VERSION = "2024.1"


def ip_version(version: str = __version__) -> str:
    """The IP's version, major.minor of unetaccel's ("0.1.0" -> "0.1")."""
    parts = version.split(".")
    return ".".join((parts + ["0"])[:2])


def vlnv(hls: bool = False) -> str:
    """The VLNV of our IP (unetaccel:unet:unet_accel:0.1) or of the HLS one (unetaccel:hls:unet_top:0.1)."""
    lib, name = (HLS_LIBRARY, HLS_NAME) if hls else (RTL_LIBRARY, RTL_NAME)
    return f"{VENDOR}:{lib}:{name}:{ip_version()}"


def ip_identity() -> dict:
    """What package_ip.tcl (BUILD/rtl) packages: the VLNV's parts, the top, the IP repository."""
    return {"vendor": VENDOR, "library": RTL_LIBRARY, "name": RTL_NAME, "version": ip_version(),
            "vlnv": vlnv(False), "top": IP_TOP, "top_file": IP_TOP_FILE, "repo": RTL_IP_REPO,
            "vivado": VIVADO_VERSION, "addr_bits": regmap.ADDR_BITS, "addr_range": 1 << regmap.ADDR_BITS}
