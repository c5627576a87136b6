"""The notebook API: `import unetaccel` stays torch-free, and the README's notebook session runs as
written (in a fresh folder)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


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


@pytest.mark.torch  # trains and quantizes
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
