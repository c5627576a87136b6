"""The deployment folder's description, BUILD/pynq/unet_accel.json, read tolerantly (no pynq import).

Keys read (docs/pynq.md): format, version, ip ("rtl" or "hls"), vlnv, instance, dma, input_shape
[H, W, C], num_classes, in_bytes, class_bytes, logit_bytes, lanes [PIN, POUT], clock_mhz,
dma_length_bits, registers {name: offset}, ir (the IR's file name, beside the JSON), bitstream.
Missing keys take the spec's defaults (instance unet_accel_0, dma axi_dma_0, 100 MHz, the
register map's offsets when it has no registers); sizes missing are derived from the shape.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..codegen import regmap
from .errors import DeploymentError

CONFIG_NAME = "unet_accel.json"
FORMAT = "unetaccel-pynq"

#: The driver's default timeout: TIMEOUT_FACTOR times the expected frame time (the IR's ideal cycles
#: plus a beat a cycle in and out, at the clock), at least TIMEOUT_MIN_S seconds; DEFAULT_TIMEOUT_S
#: without an IR to derive it from.
TIMEOUT_FACTOR = 20.0
TIMEOUT_MIN_S = 1.0
DEFAULT_TIMEOUT_S = 10.0


@dataclass
class Deployment:
    folder: Path
    input_shape: tuple[int, int, int]
    num_classes: int
    ip: str = "rtl"
    vlnv: str = ""
    instance: str = "unet_accel_0"
    dma: str = "axi_dma_0"
    in_bytes: int = 0
    class_bytes: int = 0
    logit_bytes: int = 0
    lanes: tuple[int, int] = (8, 8)
    clock_mhz: float = 100.0
    dma_length_bits: int | None = None
    registers: dict[str, int] = field(default_factory=dict)
    ir: str | None = None
    bitstream: str = "unet.bit"

    @property
    def ir_path(self) -> Path | None:
        """The IR beside the JSON (None when unet_accel.json names none or it is not there)."""
        if not self.ir:
            return None
        p = self.folder / self.ir
        return p if p.is_file() else None

    def out_bytes(self, logits: bool) -> int:
        return self.logit_bytes if logits else self.class_bytes


def load_deployment(path) -> Deployment:
    """unet_accel.json from a file, a folder holding it, or the bitstream beside it."""
    p = Path(path)
    if p.is_dir():
        p = p / CONFIG_NAME
    elif p.suffix != ".json":
        p = p.with_name(CONFIG_NAME)
    try:
        d = json.loads(p.read_text())
    except FileNotFoundError:
        raise DeploymentError(f"{p}: not found: the driver reads the deployment description written beside the "
                              "bitstream (unetaccel bitstream writes BUILD/pynq/unet_accel.json)") from None
    except ValueError as e:
        raise DeploymentError(f"{p}: not JSON ({e})") from None
    if d.get("format", FORMAT) != FORMAT:
        raise DeploymentError(f"{p}: format {d.get('format')!r}, expected {FORMAT!r}")
    try:
        h, w, c = (int(v) for v in d["input_shape"])
        k = int(d["num_classes"])
    except (KeyError, TypeError, ValueError):
        raise DeploymentError(f"{p}: input_shape [H, W, C] and num_classes are required") from None
    # this IP's map as the JSON gives it (the HLS IP has fewer registers, at offsets of its own); the
    # RTL's register map when the JSON has none
    regs = {str(n): int(v) for n, v in (d.get("registers") or {}).items()} or \
        {r.name: r.offset for r in regmap.REGISTERS}
    lanes = tuple(int(v) for v in d.get("lanes", (8, 8)))
    return Deployment(folder=p.parent, input_shape=(h, w, c), num_classes=k, ip=str(d.get("ip", "rtl")),
                      vlnv=str(d.get("vlnv", "")), instance=str(d.get("instance", "unet_accel_0")),
                      dma=str(d.get("dma", "axi_dma_0")), in_bytes=int(d.get("in_bytes", h * w * c)),
                      class_bytes=int(d.get("class_bytes", h * w)), logit_bytes=int(d.get("logit_bytes", h * w * k)),
                      lanes=(lanes[0], lanes[1]), clock_mhz=float(d.get("clock_mhz", 100)),
                      dma_length_bits=int(d["dma_length_bits"]) if d.get("dma_length_bits") else None,
                      registers=regs, ir=d.get("ir"), bitstream=str(d.get("bitstream", "unet.bit")))


def expected_cycles(net, dep: Deployment, logits: bool = False) -> int:
    """Cycles a frame takes on an engine that never idles: the IR's ideal cycles at the lanes, plus a
    beat a cycle for the input and the output streams (a lower bound of the real frame time)."""
    from ..ir.ops import ideal_cycles
    compute = sum(ideal_cycles(net, lay, dep.lanes) for lay in net.layers)
    return int(compute + -(-dep.in_bytes // 4) + -(-dep.out_bytes(logits) // 4))


def default_timeout(net, dep: Deployment) -> float:
    """Seconds the driver waits for a run by default (see TIMEOUT_FACTOR)."""
    if net is None:
        return DEFAULT_TIMEOUT_S
    frame = expected_cycles(net, dep, logits=True) / (dep.clock_mhz * 1e6)
    return max(TIMEOUT_FACTOR * frame, TIMEOUT_MIN_S)
