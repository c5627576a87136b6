"""The board notebook (examples/pynq_z2.ipynb), its code cells as written, then `python -m
unetaccel.pynq validate`, on the simulated board (the small network; a picture of 11 x 13 pixels,
so infer tiles it). The driver's clock is the wall
clock there, as on a board, so its timeout cell waits about a second."""
from pathlib import Path

import numpy as np
from PIL import Image

from unetaccel.ir.data import save_val
from unetaccel.rtl_sim import pynqsim

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "pynq_z2.ipynb"


def test_the_board_notebook_runs_on_the_simulated_board(pynq_small, tmp_path, monkeypatch):
    ir, build, _, imgs = pynq_small
    monkeypatch.delenv("PYTEST_CURRENT_TEST")  # a failed cell is reported here, naming it, not by cocotb's runner
    rng = np.random.default_rng(5)
    print("seed 5")
    for name in ("unet.hwh", "unet_accel.json"):
        (tmp_path / name).symlink_to((build / "pynq" / name).resolve())
    for p in (ir, ir.with_suffix(".npz")):
        (tmp_path / p.name).symlink_to(p.resolve())
    save_val(tmp_path / "val.npz", imgs, rng.integers(0, 3, (len(imgs), 8, 8)))
    Image.fromarray(rng.integers(0, 256, (11, 13, 3), dtype=np.uint8)).save(tmp_path / "picture.png")
    # then `python -m unetaccel.pynq validate` as a board's terminal runs it (the bitstream already loaded)
    validate = ("from unetaccel.pynq.validate import main\n"
                "assert main(['validate', '--bit', 'unet.bit', '--val', 'val.npz', '--ir', 'model.json', "
                "'--no-download']) == 0\n")
    # the picture's class map (11 x 13: four tiles) is the tiled reference's
    tiled = ("from unetaccel.pynq.validate import reference_map\n"
             "assert picture.shape == (11, 13, 3) and classes.shape == (11, 13)\n"
             "assert (classes == reference_map(ol.net, picture, ol.config.input_shape[:2])).all()\n")
    res = pynqsim.simulate(ir, imgs[:1], build, checks=(), log=print,
                           notebook={"path": NOTEBOOK, "folder": tmp_path, "extra": [tiled, validate]})
    for s in res["steps"]:
        print(s)
    steps = {s["step"]: s for s in res["steps"]}
    assert steps and all(s["ok"] for s in steps.values()), res["steps"]
    assert res["scores"]["agreement"] == 1.0 and res["scores"]["mismatches"] == 0 and res["scores"]["images"] == 3
