"""The notebook API: `import unetaccel` stays torch-free (the README's notebook session runs in
tests/test_examples.py)."""
import subprocess
import sys

import pytest


def test_import_unetaccel_does_not_import_torch():
    code = ("import sys, unetaccel as ua; ua.load_ir; ua.reference; ua.csim; ua.rtlsim; "
            "print(sorted(m for m in ('torch', 'brevitas') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_unknown_name_is_an_attribute_error():
    import unetaccel
    name = "no_such_step"
    with pytest.raises(AttributeError, match=name):
        getattr(unetaccel, name)
    assert not hasattr(unetaccel, "no_such_step") and callable(unetaccel.rtlsim)


_EVERY_NAME_TWICE = r"""
import importlib, json, pkgutil, sys
from pathlib import Path
import numpy as np
import unetaccel
# every submodule first: importing one sets it as an attribute of its package, which must not hide an API name
for m in pkgutil.walk_packages(unetaccel.__path__, "unetaccel."):
    importlib.import_module(m.name)
import unetaccel as ua

listed = dir(ua)
missing = [n for n in ua.API if n not in listed]
assert not missing, f"dir(unetaccel) lacks {missing}"
kinds = {n: type(getattr(ua, n)).__name__ for n in ua.API}
assert all(k in ("function", "type") for k in kinds.values()), kinds
out = Path(sys.argv[1])
results = {}
for turn in (1, 2):
    t = ua.train(out / "run", epochs=1, widths=(4, 8), size=(16, 16), train_length=32, val_length=8)
    q = ua.quantize(t.path, epochs=0, train_length=32, val_length=8)
    ir = ua.load_ir(q.ir_path)
    images, labels = ua.validation_images(q.ir_path, 1)
    ref = ua.reference(ir, images)
    g = ua.generate(ir, out / "build", lanes=(4, 4))
    c = ua.csim(ir, images, build=out / "build", lanes=(4, 4))
    r = ua.rtlsim(ir, images, build=out / "build", lanes=(4, 4))
    rep = ua.report(t.path, images=1, hw="ref")
    types = [isinstance(t, ua.TrainResult), isinstance(q, ua.QuantizeResult), isinstance(ref, ua.ReferenceResult),
             isinstance(g, ua.GenerateResult), isinstance(c, ua.CsimResult), isinstance(r, ua.RtlResult)]
    assert all(types), types
    assert q.mismatches == 0 and c.mismatches == 0 and r.mismatches == 0 and rep.mismatches == 0
    assert ref.classes.shape == (1, 16, 16) and labels.shape == (1, 16, 16)
    results[turn] = [int(ref.classes.sum()), r.cycles]
assert results[1] == results[2], results
print(json.dumps({"kinds": kinds, "results": results}))
"""


@pytest.mark.torch
def test_every_api_name_twice_after_every_submodule(tmp_path):
    """Every submodule imported first, then each API name called twice (a notebook cell run again):
    each stays the function (or result type) it is, dir() lists them, the same run gives the same
    result (the report's submodule once replaced ua.report on first use: 'module' object is not
    callable)."""
    r = subprocess.run([sys.executable, "-c", _EVERY_NAME_TWICE, str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-6000:]


def test_no_submodule_is_named_like_an_api_name():
    import pkgutil

    import unetaccel
    names = {m.name.split(".")[1] for m in pkgutil.iter_modules(unetaccel.__path__, "unetaccel.")}
    assert not names & set(unetaccel.API), names & set(unetaccel.API)
