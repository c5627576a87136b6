"""The notebook API: `import unetaccel` stays torch-free (the README's notebook session runs in
tests/test_examples.py)."""
import subprocess
import sys


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
