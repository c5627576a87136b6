"""Session fixtures shared by every test folder.

`trained_run` trains the default network briefly with a fixed seed on the
synthetic dataset, quantizes it (W5A8, short QAT) and caches the run folder for
the whole pytest session; no binary checkpoint is committed.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

TRAINED_SEED = 0


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """RUN folder of the trained default network: float.pt, model.json/.npz, model.onnx, val.npz."""
    from unetaccel.model.train import TrainConfig, train
    from unetaccel.quant.job import quantize

    run = tmp_path_factory.mktemp("trained_default")
    print(f"training the default network (seed {TRAINED_SEED}) into {run}")
    epochs = int(os.environ.get("UNETACCEL_TEST_EPOCHS", "5"))  # ~30 s on 2 cores
    train(TrainConfig(epochs=epochs, seed=TRAINED_SEED, train_length=1024, val_length=32), run, progress=False)
    m = quantize(run / "float.pt", run, epochs=1, seed=TRAINED_SEED, val_images=16, progress=False,
                 train_length=256, val_length=32, log=lambda *a: None)
    assert m["exactness"]["mismatches"] == 0, "Brevitas and the reference disagree on the trained network"
    return run


@pytest.fixture(scope="session")
def trained_ir_path(trained_run) -> Path:
    """RUN/model.json of the trained default network (model.npz and val.npz beside it)."""
    return trained_run / "model.json"
