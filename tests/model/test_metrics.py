"""Losses and metrics, ignore index honoured."""
import numpy as np
import torch

from unetaccel.model.metrics import SegLoss, confusion, dice_loss, segmentation_metrics


def test_metrics_on_a_known_confusion():
    t = np.array([0, 0, 1, 1, 2, 255])
    p = np.array([0, 1, 1, 1, 0, 2])
    m = segmentation_metrics(p, t, 3)
    assert m["pixels"] == 5
    assert m["pixel_accuracy"] == 3 / 5
    assert m["iou"]["0"] == 1 / 3 and m["iou"]["1"] == 2 / 3 and m["iou"]["2"] == 0.0
    assert abs(m["mean_iou"] - (1 / 3 + 2 / 3 + 0) / 3) < 1e-12
    assert m["precision"]["1"] == 2 / 3 and m["recall"]["1"] == 1.0
    assert confusion(p, t, 3).sum() == 5


def test_loss_ignores_void_and_prefers_the_truth():
    torch.manual_seed(0)
    target = torch.randint(0, 4, (2, 8, 8))
    target[0, 0, :] = 255
    good = torch.nn.functional.one_hot(torch.where(target == 255, 0, target), 4).permute(0, 3, 1, 2).float() * 10
    bad = torch.randn(2, 4, 8, 8)
    for beta in (0.0, 0.5, 1.0):
        f = SegLoss(beta)
        assert f(good, target) < f(bad, target)
    assert float(dice_loss(good, target)) < 0.05
