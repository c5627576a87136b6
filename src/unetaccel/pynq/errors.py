"""The driver's exceptions: every way a run on the board can go wrong, by name (no pynq import).

:class:`AcceleratorError` is the base (a :class:`~unetaccel.errors.UnetaccelError` and a
``RuntimeError``). A run the engine ended with an error code raises :class:`RunError`, or rather
its subclass for that code (``BadSizeError``, ``AbortedError``, ...: one per
``unetaccel.codegen.regmap.ERRORS`` entry, in ``RUN_ERRORS``), whose message names the code. Sticky
STATUS bits left by a run raise :class:`StatusError` naming each bit; a DMA channel reporting an
error, or a frame of the wrong length, :class:`DmaError`; a run that does not end within the
timeout :class:`AcceleratorTimeout` (after the driver aborted it and reset the DMA); a refused
parameter load :class:`LoadRefused`.
"""
from __future__ import annotations

from ..codegen import regmap
from ..errors import UnetaccelError


class AcceleratorError(UnetaccelError, RuntimeError):
    """Something went wrong on the accelerator or its DMA; the message says what."""


class DeploymentError(AcceleratorError):
    """The deployment folder (unet_accel.json, the bitstream, the IR) is missing or inconsistent."""


class RunError(AcceleratorError):
    """The engine ended a run with a non-zero ERROR code (regmap.ERRORS)."""
    code = -1
    name = "unknown"

    def __init__(self, code: int, detail: str = ""):
        self.code = int(code)
        self.name = ERROR_NAMES.get(self.code, f"unknown code {self.code}")
        super().__init__(f"the accelerator ended the run with error {self.name} ({self.code})"
                         + (f": {detail}" if detail else ""))


ERROR_NAMES = {v: k for k, v in regmap.ERRORS.items()}


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_")) + "Error"


#: One RunError subclass per error code but none: RUN_ERRORS["bad_size"] is BadSizeError.
RUN_ERRORS: dict[str, type] = {name: type(_camel(name), (RunError,), {"__doc__": f"ERROR = {name} ({code})",
                                                                      "__module__": __name__})
                               for name, code in regmap.ERRORS.items() if code}
globals().update({cls.__name__: cls for cls in RUN_ERRORS.values()})


def run_error(code: int, detail: str = "") -> RunError:
    """The exception for an ERROR code: its own subclass when the map names it."""
    cls = RUN_ERRORS.get(ERROR_NAMES.get(int(code), ""), RunError)
    return cls(code, detail)


class StatusError(AcceleratorError):
    """Sticky STATUS bits were set by a run (each named, with its meaning from the register map)."""

    def __init__(self, bits: list[str], docs: dict[str, str] | None = None, detail: str = ""):
        self.bits = list(bits)
        docs = docs or {}
        named = "; ".join(f"{b} ({docs[b]})" if docs.get(b) else b for b in self.bits)
        super().__init__(f"STATUS: {named}" + (f": {detail}" if detail else ""))


class DmaError(AcceleratorError):
    """The AXI DMA reported an error, or moved a frame of the wrong length."""


class AcceleratorTimeout(AcceleratorError, TimeoutError):
    """A run did not end within the timeout; the driver aborted it (CTRL.abort) and reset the DMA
    when a channel was still busy, so the overlay is usable again."""


class LoadRefused(AcceleratorError):
    """The run-time parameter load path (WLOAD_DATA) refused a write (WLOAD_STATUS.refused)."""
