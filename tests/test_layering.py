"""Stages import one way: nothing from unetaccel.ir on imports torch or brevitas."""
import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["unetaccel.ir", "unetaccel.ir.synth", "unetaccel.codegen",
                                    "unetaccel.codegen.regmap", "unetaccel.hls", "unetaccel.rtl_sim",
                                    "unetaccel.fsic", "unetaccel.tools"])
def test_no_torch_after_ir(module):
    code = (f"import sys, {module}; bad = [m for m in ('torch', 'brevitas') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, f"{module} imports {r.stdout.strip()} {r.stderr[-500:]}"
