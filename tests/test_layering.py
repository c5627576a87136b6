"""Stages import one way: nothing from unetaccel.ir on imports torch, brevitas, onnx or qonnx.

Every module of the later stages is imported (found with pkgutil, so a new module is covered
without editing this file) in a fresh interpreter. The cocotb testbench modules
(rtl_sim.tb_*) are included: they import cocotb and cocotbext-axi, which load outside a
simulator; only their test functions need one.
"""
import json
import subprocess
import sys

import pytest

STAGES = ["unetaccel.ir", "unetaccel.codegen", "unetaccel.hls", "unetaccel.rtl_sim", "unetaccel.fsic", "unetaccel.pynq",
          "unetaccel.tools", "unetaccel.threads", "unetaccel.errors", "unetaccel.options", "unetaccel.palette", "unetaccel.scores"]
# tools: the external-tool finder the later stages share; errors, options, palette, scores: what the CLI and
# the later stages share
FORBIDDEN = ("torch", "brevitas", "onnx", "qonnx")

_WALK = """
import importlib, json, pkgutil, sys
forbidden, report = {forbidden!r}, {{"modules": [], "culprits": {{}}, "errors": {{}}}}
for pkg_name in {packages!r}:
    pkg = importlib.import_module(pkg_name)
    sub = pkgutil.walk_packages(pkg.__path__, pkg_name + ".") if hasattr(pkg, "__path__") else []
    names = [pkg_name] + sorted(m.name for m in sub)
    for name in names:
        before = {{m for m in forbidden if m in sys.modules}}
        try:
            importlib.import_module(name)
        except Exception as e:
            report["errors"][name] = f"{{type(e).__name__}}: {{e}}"
            continue
        report["modules"].append(name)
        new = sorted(m for m in forbidden if m in sys.modules and m not in before)
        if new:
            report["culprits"][name] = new
report["loaded"] = sorted(m for m in forbidden if m in sys.modules)
print(json.dumps(report))
"""


def _walk(packages):
    r = subprocess.run([sys.executable, "-c", _WALK.format(forbidden=FORBIDDEN, packages=packages)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_no_torch_brevitas_or_onnx_after_ir():
    rep = _walk(STAGES)
    assert not rep["errors"], f"modules that do not import: {rep['errors']}"
    # the walk really found the modules (a broken walk must not pass vacuously)
    for m in ("unetaccel.ir.reference", "unetaccel.ir.randnet", "unetaccel.codegen.rtl_project",
              "unetaccel.hls.csim", "unetaccel.rtl_sim.runner", "unetaccel.rtl_sim.tb_core", "unetaccel.fsic",
              "unetaccel.fsic.system", "unetaccel.fsic.fsicsim", "unetaccel.codegen.fsic_project",
              "unetaccel.tools"):
        assert m in rep["modules"], f"{m} was not walked: {rep['modules']}"
    assert rep["loaded"] == [], f"imported {rep['loaded']}; first pulled in by {rep['culprits']}"


@pytest.mark.torch
def test_the_check_sees_a_forbidden_import():
    """The same walk over unetaccel.quant (which needs torch and brevitas) reports them."""
    rep = _walk(["unetaccel.quant"])
    assert {"torch", "brevitas"} <= set(rep["loaded"])
    assert rep["culprits"]
