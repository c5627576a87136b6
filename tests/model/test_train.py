"""Training: a few steps lower the loss, checkpoints round-trip, the run folder holds its artifacts."""
import json

import numpy as np
import pytest
import torch

from unetaccel.model import UNet
from unetaccel.model.datasets import get_dataset
from unetaccel.model.train import (TrainConfig, collate, fit, load_checkpoint, save_checkpoint, seed_everything,
                                   to_input, train)
from unetaccel.model.datasets import DatasetError
from unetaccel.model.metrics import ClassWeightsError, SegLoss
from unetaccel.model.train import build_datasets

from dsfixtures import voc


def test_a_few_steps_lower_the_loss():
    seed = 3
    print("seed", seed)
    seed_everything(seed)
    ds = get_dataset("synthetic", split="train", size=(32, 32), num_classes=5, length=16, augment=False, seed=seed)
    x, y = collate([ds[i] for i in range(16)])
    m = UNet(3, 5, (8, 16, 32), (32, 32))
    f = SegLoss(0.5)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    m.train()
    with torch.no_grad():
        before = float(f(m(to_input(x)), y))
    for _ in range(15):
        loss = f(m(to_input(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = float(f(m(to_input(x)), y))
    print(f"loss {before:.4f} -> {after:.4f}")
    assert after < 0.8 * before


def test_training_is_deterministic_for_a_seed():
    ds = get_dataset("synthetic", split="train", size=(16, 16), num_classes=3, length=8, seed=1)
    val = get_dataset("synthetic", split="val", size=(16, 16), num_classes=3, length=4, seed=1)
    outs = []
    for _ in range(2):
        seed_everything(5)
        m = UNet(3, 3, (4, 8), (16, 16))
        fit(m, ds, val, 3, epochs=1, lr=1e-3, batch_size=4, seed=5, progress=False)
        outs.append(torch.cat([p.detach().flatten() for p in m.parameters()]))
    assert torch.equal(outs[0], outs[1])


def test_checkpoint_round_trip(tmp_path):
    seed = 11
    print("seed", seed)
    torch.manual_seed(seed)
    m = UNet(3, 5, (4, 8, 16), (32, 48))
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p))
        m.encoders[0][1].running_mean.uniform_(-1, 1)
    p = save_checkpoint(tmp_path / "f.pt", m, {"note": "x"})
    m2, ck = load_checkpoint(p)
    assert m2.config == m.config and ck["note"] == "x"
    m.eval()
    m2.eval()
    x = torch.rand(2, 3, 32, 48)
    assert torch.equal(m(x), m2(x))


def test_train_job_writes_its_artifacts(tmp_path):
    cfg = TrainConfig(epochs=1, widths=(4, 8), classes=3, size=(16, 16), train_length=16, val_length=8,
                      batch_size=8, seed=0)
    m = train(cfg, tmp_path, progress=False)
    for f in ("float.pt", "metrics.json", "loss.png", "predictions.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    doc = json.loads((tmp_path / "metrics.json").read_text())
    for k in ("pixel_accuracy", "mean_iou", "iou", "dice", "precision", "recall", "f1"):
        assert k in doc["val"]
    assert doc["model"]["widths"] == [4, 8] and m["val"]["images"] == 8
    assert np.isfinite(doc["history"]["train_loss"][0])


def test_classes_must_agree_with_a_dataset_that_fixes_them(tmp_path):
    """VOC's labels define 21 classes: --classes 3 would build a 3-class head and crash in the
    loss on label 7; it is refused up front, naming both numbers."""
    voc(tmp_path)
    with pytest.raises(DatasetError, match=r"--classes 3 disagrees with the voc dataset at .*21 classes"):
        build_datasets(TrainConfig(dataset="voc", data_root=str(tmp_path), classes=3, size=(16, 16)))
    _, _, k, names = build_datasets(TrainConfig(dataset="voc", data_root=str(tmp_path), classes=21, size=(16, 16)))
    assert k == 21 and names[15] == "person"
    _, _, k, _ = build_datasets(TrainConfig(dataset="voc", data_root=str(tmp_path), size=(16, 16)))
    assert k == 21
    with pytest.raises(DatasetError, match=r"--classes 1: .*at least 2"):
        build_datasets(TrainConfig(classes=1, size=(16, 16)))


def test_class_weights_are_checked_before_training(tmp_path):
    cfg = TrainConfig(epochs=1, widths=(4, 8), classes=3, size=(16, 16), train_length=8, val_length=4,
                      class_weights=[1.0, 2.0])
    with pytest.raises(ClassWeightsError, match="2 weights for 3 classes"):
        train(cfg, tmp_path, progress=False)
    assert not (tmp_path / "float.pt").exists()


def test_overlay_legend_names_the_classes_shown_in_their_colours(tmp_path):
    """The overlays' legend: every class that occurs in the truth or a prediction, named, in the
    colour colorize() paints it; ignored pixels white; nothing for classes that do not occur."""
    from unetaccel.model.metrics import IGNORE_INDEX
    from unetaccel.model.train import colorize, legend_entries, plot_overlays
    truth = np.array([[[0, 2], [2, IGNORE_INDEX]]])
    pred = np.array([[[0, 4], [2, 2]]])
    names = ["bg", "one", "two", "three", "four"]
    got = legend_entries([truth, pred], 5, names)
    assert [n for n, _ in got] == ["bg", "two", "four", "ignored"]
    for name, rgb in got[:-1]:
        c = names.index(name)
        assert rgb == tuple(int(v) for v in colorize(np.array([[c]]), 5)[0, 0]), name
    assert got[-1][1] == (255, 255, 255) == tuple(int(v) for v in colorize(np.array([[IGNORE_INDEX]]), 5)[0, 0])
    img = np.zeros((1, 3, 2, 2), np.uint8)
    path = plot_overlays(img, truth, {"pred": pred}, 5, tmp_path / "o.png", class_names=names)
    assert path.stat().st_size > 0
