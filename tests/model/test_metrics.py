"""Losses and metrics, ignore index honoured."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unetaccel.model.metrics import ClassWeightsError, SegLoss, confusion, dice_loss, segmentation_metrics


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
    print("seed", 0)
    torch.manual_seed(0)
    target = torch.randint(0, 4, (2, 8, 8))
    target[0, 0, :] = 255
    good = torch.nn.functional.one_hot(torch.where(target == 255, 0, target), 4).permute(0, 3, 1, 2).float() * 10
    bad = torch.randn(2, 4, 8, 8)
    for beta in (0.0, 0.5, 1.0):
        f = SegLoss(beta)
        assert f(good, target) < f(bad, target)
    assert float(dice_loss(good, target)) < 0.05


def _batch(seed, k=4, n=2, h=8, w=8):
    print("seed", seed)
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, k, (n, h, w), generator=g)
    target[torch.rand(n, h, w, generator=g) < 0.25] = 255
    logits = torch.randn(n, k, h, w, generator=g) * 3
    return logits, target


def test_ignore_index_is_honoured():
    """Changing the logits only where the label is 255 leaves CE, Dice and the confusion matrix
    as they were; changing them at one labelled pixel does not (so the check can fail)."""
    logits, target = _batch(101)
    void = (target == 255).unsqueeze(1).expand_as(logits)
    assert void.any()
    other = logits.clone()
    g = torch.Generator().manual_seed(102)
    other[void] = torch.randn(int(void.sum()), generator=g) * 50  # wild logits, other argmax
    assert not torch.equal(logits.argmax(1)[target == 255], other.argmax(1)[target == 255])

    def measures(lg):
        return (float(F.cross_entropy(lg, target, ignore_index=255)), float(dice_loss(lg, target)),
                float(SegLoss(0.5)(lg, target)), confusion(lg.argmax(1).numpy(), target.numpy(), 4))
    a, b = measures(logits), measures(other)
    assert a[:3] == b[:3]
    assert np.array_equal(a[3], b[3])
    labelled = other.clone()
    n, y, x = (int(v[0]) for v in torch.nonzero(target != 255, as_tuple=True))
    labelled[n, :, y, x] = torch.roll(labelled[n, :, y, x], 1) * 5
    c = measures(labelled)
    assert c[0] != a[0] and c[1] != a[1]


def test_class_weights_weight_the_cross_entropy():
    """Weighted CE is sum(w[t] * ce) / sum(w[t]) over the labelled pixels; the Dice part is unweighted."""
    logits, target = _batch(103)
    w = torch.tensor([0.5, 1.0, 3.0, 2.0])
    valid = target != 255
    ce = F.cross_entropy(logits, torch.where(valid, target, 0), reduction="none")[valid]
    wt = w[target[valid]]
    want = float((wt * ce).sum() / wt.sum())
    assert abs(float(SegLoss(1.0, w.tolist())(logits, target)) - want) < 1e-5
    unweighted = float(ce.mean())
    assert abs(want - unweighted) > 1e-3  # the weights matter on this batch
    half_w, half = float(SegLoss(0.5, w.tolist())(logits, target)), float(SegLoss(0.5)(logits, target))
    assert abs((half_w - half) - 0.5 * (want - unweighted)) < 1e-5
    # up-weighting the class the model gets most wrong raises the loss
    per_class = [float(ce[target[valid] == c].mean()) for c in range(4)]
    worst = int(np.argmax(per_class))
    up = [1.0] * 4
    up[worst] = 10.0
    assert float(SegLoss(1.0, up)(logits, target)) > float(SegLoss(1.0)(logits, target))


@pytest.mark.parametrize("weights,match", [([1.0, 0.0, 1.0, 1.0], "weight 1 is 0.0"), ([1, -2, 1, 1], "weight 1 is -2.0"),
                                           ([1.0, float("inf"), 1, 1], "weight 1 is inf"), ("ab", "list of numbers")])
def test_bad_class_weights_are_refused(weights, match):
    with pytest.raises(ClassWeightsError, match=match):
        SegLoss(0.5, weights)


def test_class_weights_of_the_wrong_length_are_refused():
    logits, target = _batch(104)
    with pytest.raises(ClassWeightsError, match="3 weights for 4 classes"):
        SegLoss(0.5, [1.0, 1.0, 1.0])(logits, target)
