"""Session fixtures shared by every test folder, and by every pytest-xdist worker.

`trained_run` trains the default network briefly with a fixed seed on the
synthetic dataset, quantizes it (W5A8, short QAT) and caches the run folder for
the whole pytest session; no binary checkpoint is committed. Under pytest-xdist
(`make test` runs one worker per core) the first worker that needs a session
fixture makes it, under a file lock, in the session's shared temporary folder;
the others wait for it and reuse it (the `shared` fixture).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

TRAINED_SEED = 0


def shared_folder(tmp_path_factory, worker_id: str, name: str, make) -> Path:
    """The folder `name`, made once per test session by `make(folder)` and shared by the workers."""
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the session's base folder, above each worker's own
    folder = root / name
    with FileLock(str(folder) + ".lock"):
        if not (folder / ".made").is_file():
            folder.mkdir(parents=True, exist_ok=True)
            make(folder)
            (folder / ".made").touch()
    return folder


def _train(run: Path) -> None:
    from unetaccel.model.train import TrainConfig, train
    from unetaccel.quant.job import quantize

    print(f"training the default network (seed {TRAINED_SEED}) into {run}")
    epochs = int(os.environ.get("UNETACCEL_TEST_EPOCHS", "5"))  # ~30 s on 2 cores
    train(TrainConfig(epochs=epochs, seed=TRAINED_SEED, train_length=1024, val_length=32), run, progress=False)
    m = quantize(run / "float.pt", run, epochs=1, seed=TRAINED_SEED, val_images=16, progress=False,
                 train_length=256, val_length=32, log=lambda *a: None)
    assert m["exactness"]["mismatches"] == 0, "Brevitas and the reference disagree on the trained network"


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """shared(name, make) -> the folder `name`, made once per session by make(folder), for every worker
    (also without pytest-xdist, e.g. `pytest -p no:xdist`)."""
    worker_id = os.environ.get("PYTEST_XDIST_WORKER", "master")
    return lambda name, make: shared_folder(tmp_path_factory, worker_id, name, make)


@pytest.fixture(scope="session")
def trained_run(shared) -> Path:
    """RUN folder of the trained default network: float.pt, model.json/.npz, model.onnx, val.npz."""
    return shared("trained_default", _train)


@pytest.fixture(scope="session")
def trained_ir_path(trained_run) -> Path:
    """RUN/model.json of the trained default network (model.npz and val.npz beside it)."""
    return trained_run / "model.json"
