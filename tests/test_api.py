"""The notebook API: `import unetaccel` stays torch-free, and the README's notebook session runs as
written (in a fresh folder)."""
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_import_unetaccel_does_not_import_torch():
    code = ("import sys, unetaccel as ua; ua.load_ir; ua.reference; ua.csim; ua.rtlsim; "
            "print(sorted(m for m in ('torch', 'brevitas') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


def test_unknown_name_is_an_attribute_error():
    import pytest

    import unetaccel
    name = "no_such_step"
    with pytest.raises(AttributeError, match=name):
        getattr(unetaccel, name)
    assert not hasattr(unetaccel, "no_such_step") and callable(unetaccel.rtlsim)


def test_readme_notebook_session_runs(tmp_path, monkeypatch):
    block = re.search(r"<!-- notebook -->\n```python\n(.*?)```", README.read_text(), re.S).group(1)
    assert len(block.strip().splitlines()) <= 10, block
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "README.md notebook", "exec"), scope)
    q, rtl, rep = scope["q"], scope["rtl"], scope["rep"]
    assert q.mismatches == 0 and q.ir_path == Path("runs/nb/model.json")
    assert rtl.images == 2 and rtl.mismatches == 0 and all(c > 0 for c in rtl.cycles)
    assert rep.mismatches == 0 and (rep.out / "overlays.png").is_file() and (rep.out / "report.md").is_file()
    assert rep.figures["cycles"]["mean"] > 0
    # the last line's value (a notebook shows it): the overlay picture
    img = eval(block.strip().splitlines()[-1], scope)
    assert img.size[0] > 0 and img.size[1] > 0


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
