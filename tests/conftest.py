"""Session fixtures shared by every test folder, and by every pytest-xdist worker.

`trained_run` trains the default network briefly with a fixed seed on the
synthetic dataset, quantizes it (W5A8, short QAT) and caches the run folder for
the whole pytest session; no binary checkpoint is committed. Under pytest-xdist
(`make test` runs one worker per core) the first worker that needs a session
fixture makes it, under a file lock, in the session's shared temporary folder;
the others wait for it and reuse it (the `shared` fixture).

The `torch` marker: a test that needs torch (and brevitas: the training and quantization stages)
is marked `torch`, automatically when it lies in one of TORCH_FOLDERS (their modules import torch
or those stages) or uses a TORCH_FIXTURES fixture, by hand (`@pytest.mark.torch`) otherwise.
`pytest --torch-free` (what `make smoke` runs, in a venv without torch) does not collect
TORCH_FOLDERS and deselects every test marked `torch`, and lists both at the end; a test that
needs torch but is not marked fails there (torch is not installed), it is never skipped.
`-m "not torch"` deselects the same tests in a venv that has torch.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

TRAINED_SEED = 0

TESTS = Path(__file__).resolve().parent
TORCH_FOLDERS = ("cli", "model", "quant")  # under tests/
TORCH_FIXTURES = {"trained_run", "trained_ir_path"}


def _torch_folder(path: Path) -> str | None:
    """The TORCH_FOLDERS entry `path` lies in (or is), else None."""
    try:
        parts = Path(path).resolve().relative_to(TESTS).parts
    except ValueError:
        return None
    return parts[0] if parts and parts[0] in TORCH_FOLDERS else None


def pytest_addoption(parser):
    parser.addoption("--torch-free", action="store_true",
                     help="run only the tests that need no torch: TORCH_FOLDERS (tests/conftest.py) are not "
                          "collected and tests marked torch are deselected; both are listed at the end")


def pytest_configure(config):
    config._torch_free_report = {"folders": [], "tests": []}


def pytest_ignore_collect(collection_path, config):
    if config.getoption("torch_free") and _torch_folder(collection_path):
        rel = str(Path(collection_path).resolve().relative_to(TESTS.parent))
        if rel not in config._torch_free_report["folders"]:
            config._torch_free_report["folders"].append(rel)
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before -m applies the markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        if _torch_folder(item.path) or TORCH_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.torch)
    if not config.getoption("torch_free"):
        return
    keep = [i for i in items if i.get_closest_marker("torch") is None]
    drop = [i for i in items if i.get_closest_marker("torch") is not None]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    config._torch_free_report["tests"] = [i.nodeid for i in drop]
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: hand the list to the controller
        config.workeroutput["torch_free_report"] = config._torch_free_report


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist's controller: every worker collects the same tests; keep one worker's list."""
    rep = getattr(node, "workeroutput", {}).get("torch_free_report")
    if rep:
        node.config._torch_free_report = rep


def pytest_terminal_summary(terminalreporter, config):
    if not config.getoption("torch_free"):
        return
    rep = config._torch_free_report
    tr = terminalreporter
    tr.section("--torch-free: not run (need torch)")
    tr.write_line(f"not collected, {len(rep['folders'])} folders: {', '.join(sorted(rep['folders'])) or '-'}")
    tr.write_line(f"deselected, {len(rep['tests'])} tests marked torch:")
    for nodeid in rep["tests"]:
        tr.write_line(f"  {nodeid}")


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
