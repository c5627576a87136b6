"""examples/: the notebook holds the README's notebook session, and that session runs as written
(in a fresh folder)."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOTEBOOK = ROOT / "examples" / "notebook.ipynb"


def readme_block() -> str:
    """The ```python block after `<!-- notebook -->` in README.md."""
    return re.search(r"<!-- notebook -->\n```python\n(.*?)```", README.read_text(), re.S).group(1)


def notebook_code(nb: dict) -> str:
    """The notebook's code cells put together: each cell's source, ending in a newline."""
    return "".join("".join(c["source"]).rstrip("\n") + "\n" for c in nb["cells"] if c["cell_type"] == "code")


def test_notebook_holds_the_readme_session():
    """A real notebook (nbformat 4; cells with ids, no outputs stored) whose code cells, put
    together, are the README's block exactly, with a markdown cell before the training that says
    the toy run is not meant to learn: the two cannot drift apart."""
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 5 and nb["metadata"]["kernelspec"]["language"] == "python"
    cells = nb["cells"]
    assert all(c["cell_type"] in ("code", "markdown") and re.fullmatch(r"[\w-]{1,64}", c["id"]) for c in cells)
    assert len({c["id"] for c in cells}) == len(cells)
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")
    assert notebook_code(nb) == readme_block(), "examples/notebook.ipynb's code differs from the README's block"
    train = next(i for i, c in enumerate(cells) if "ua.train(" in "".join(c["source"]))
    before = "".join("".join(c["source"]) for c in cells[:train] if c["cell_type"] == "markdown")
    assert "toy run" in before and "mIoU near 0" in before and "make demo" in before


@pytest.mark.torch
def test_readme_notebook_session_runs(tmp_path, monkeypatch):
    block = readme_block()
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


PYNQ_NOTEBOOK = ROOT / "examples" / "pynq_z2.ipynb"


def test_board_notebook_is_consistent_with_the_driver():
    """examples/pynq_z2.ipynb: a real notebook (as above), whose code compiles, imports only what
    unetaccel has, and calls only what the driver's UnetOverlay has (the classes made on a minimal
    `pynq`; tests/pynq/test_notebook.py runs the cells on the simulated board)."""
    import types

    from unetaccel.pynq import driver
    nb = json.loads(PYNQ_NOTEBOOK.read_text())
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 5 and nb["metadata"]["kernelspec"]["language"] == "python"
    cells = nb["cells"]
    assert all(re.fullmatch(r"[\w-]{1,64}", c["id"]) for c in cells) and len({c["id"] for c in cells}) == len(cells)
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")
    code = notebook_code(nb)
    compile(code, str(PYNQ_NOTEBOOK), "exec")
    for mod, names in re.findall(r"^from (unetaccel[\w.]*) import (.+)$", code, flags=re.M):
        m = __import__(mod, fromlist=["x"])
        assert all(n.strip() in getattr(m, "__all__", ()) or hasattr(m, n.strip()) for n in names.split(",")), (mod, names)
    fake = types.SimpleNamespace(DefaultIP=type("DefaultIP", (), {}), Overlay=type("Overlay", (), {}))
    _, overlay = driver._make(fake)
    used = set(re.findall(r"\bol\.(\w+)", code))
    made = {"config", "timeout", "ibuf", "obuf", "accel", "dma", "net", "clock", "last_cycles", "last_status"}
    assert used and used <= set(dir(overlay)) | made, used - set(dir(overlay)) - made
    assert {"infer", "throughput_test", "execute_on_buffers"} <= used
