"""A Verilog module's ANSI header as the tests read it: its ports and the X_INTERFACE attributes
written before each (the IP top unet_accel_ip.v, the accelerator unet_accel.sv), and the bus
interfaces Vivado's packager infers from those attributes."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class VPort:
    name: str
    dir: str  # "I" / "O"
    width: int
    info: str | None = None  # X_INTERFACE_INFO
    param: str | None = None  # X_INTERFACE_PARAMETER


def module_ports(verilog: str, module: str) -> dict[str, VPort]:
    """The ports of `module`'s ANSI header, with the X_INTERFACE attributes written before each."""
    m = re.search(rf"\bmodule\s+{module}\s*(?:#\s*\(.*?\)\s*)?\((.*?)\);", verilog, flags=re.S)
    assert m, f"no module {module} header"
    header = re.sub(r"//[^\n]*", "", m.group(1))
    ports: dict[str, VPort] = {}
    attrs: dict[str, str] = {}
    pos = 0
    token = re.compile(r"\(\*\s*(X_INTERFACE_INFO|X_INTERFACE_PARAMETER)\s*=\s*\"([^\"]*)\"\s*\*\)|"
                       r"\b(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?(\[\s*(\d+)\s*:\s*(\d+)\s*\])?\s*(\w+)")
    while (t := token.search(header, pos)):
        pos = t.end()
        if t.group(1):
            attrs[t.group(1)] = t.group(2)
            continue
        width = int(t.group(5)) - int(t.group(6)) + 1 if t.group(4) else 1
        ports[t.group(7)] = VPort(t.group(7), {"input": "I", "output": "O", "inout": "IO"}[t.group(3)], width,
                                  attrs.get("X_INTERFACE_INFO"), attrs.get("X_INTERFACE_PARAMETER"))
        attrs = {}
    return ports


def inferred_interfaces(ports: dict[str, VPort]) -> dict[str, dict]:
    """What ipx::package_project infers from the X_INTERFACE attributes (UG1118): per bus interface
    its bus type, mode (slave when the interface's leading signal is an input: AWADDR, TDATA, a clock
    or reset; an interrupt is an output, master), the logical -> physical port map, parameters."""
    out: dict[str, dict] = {}
    for p in ports.values():
        if not p.info:
            continue
        vlnv, name, logical = p.info.split()
        bi = out.setdefault(name, {"bus": vlnv, "ports": {}, "params": {}})
        bi["ports"][logical] = p.name
        if p.param:
            for item in p.param.split(","):
                k, _, v = item.strip().partition(" ")
                bi["params"][k] = v.strip()
    for bi in out.values():
        lead = {"aximm": "AWADDR", "axis": "TDATA"}.get(bi["bus"].split(":")[2])
        port = ports[bi["ports"][lead]] if lead else ports[next(iter(bi["ports"].values()))]
        bi["mode"] = "slave" if port.dir == "I" else "master"
    return out
