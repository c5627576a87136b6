"""Torch's thread count: UNETACCEL_THREADS, else the usable cores shared among pytest-xdist workers."""
import subprocess
import sys

import pytest

from unetaccel.threads import ThreadsError, torch_threads, usable_cores


def test_default_is_the_usable_cores():
    assert torch_threads({}) == usable_cores()


@pytest.mark.parametrize("workers", [1, 2, 3, 64])
def test_shared_among_xdist_workers(workers):
    assert torch_threads({"PYTEST_XDIST_WORKER_COUNT": str(workers)}) == max(1, usable_cores() // workers)


def test_override_wins():
    assert torch_threads({"UNETACCEL_THREADS": "3", "PYTEST_XDIST_WORKER_COUNT": "2"}) == 3


@pytest.mark.parametrize("bad", ["0", "-2", "two", ""])
def test_bad_value_names_the_variable(bad):
    with pytest.raises(ThreadsError, match=f"UNETACCEL_THREADS={bad}"):
        torch_threads({"UNETACCEL_THREADS": bad})


@pytest.mark.torch
def test_training_sets_torch_threads(tmp_path):
    """train() applies the count before it starts (torch's own default is one thread a core)."""
    code = ("import torch; from unetaccel.model.train import TrainConfig, train; "
            f"train(TrainConfig(epochs=1, widths=(4, 8), size=(16, 16), train_length=8, val_length=4), {str(tmp_path)!r}, "
            "progress=False); print(torch.get_num_threads())")
    env = {**__import__("os").environ, "UNETACCEL_THREADS": "1"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.split()[-1] == "1", r.stdout[-2000:] + r.stderr[-2000:]
