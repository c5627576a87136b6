"""The report's figures on hand-made cases whose values are known in advance."""
import math

import numpy as np
import pytest

from unetaccel.scores import IGNORE_INDEX, agreement, confusion, metrics_from_confusion, sqnr_db


def test_sqnr_of_a_known_error():
    # signal 1 + 1 + 4 + 4 = 10, noise 0.01 * 4 = 0.04: 10 log10(250) = 23.979... dB
    ref = np.array([1.0, -1.0, 2.0, -2.0])
    assert sqnr_db(ref, ref + np.array([0.1, -0.1, 0.1, -0.1])) == pytest.approx(10 * math.log10(250), abs=1e-9)
    assert sqnr_db([1.0, 1.0], [1.1, 0.9]) == pytest.approx(20.0, abs=1e-9)  # 2 / 0.02 = 100
    assert sqnr_db(ref, ref) == math.inf
    assert sqnr_db(np.zeros(3), np.ones(3)) == -math.inf
    with pytest.raises(ValueError):
        sqnr_db(np.zeros(3), np.zeros(4))


def test_confusion_and_scores_of_a_known_pair():
    truth = np.array([[0, 0, 1], [1, 2, IGNORE_INDEX]])
    pred = np.array([[0, 1, 1], [1, 2, 0]])
    cm = confusion(pred, truth, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 1]]  # the ignored pixel is not counted
    m = metrics_from_confusion(cm, ["a", "b", "c"])
    assert m["pixel_accuracy"] == pytest.approx(4 / 5)
    # IoU: a 1 / (1 + 0 + 1) = 0.5; b 2 / (2 + 1 + 0) = 2/3; c 1; Dice: a 2/3, b 0.8, c 1
    assert m["iou"] == pytest.approx({"a": 0.5, "b": 2 / 3, "c": 1.0})
    assert m["dice"] == pytest.approx({"a": 2 / 3, "b": 0.8, "c": 1.0})
    assert m["mean_iou"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert m["pixels"] == 5


def test_agreement_of_a_known_pair():
    a = np.array([0, 0, 1, 1, 1, 2])
    b = np.array([0, 1, 1, 1, 0, 0])
    ag = agreement(a, b, 4, ["w", "x", "y", "z"])
    assert ag["agree"] == pytest.approx(3 / 6) and ag["pixels"] == 6
    assert ag["per_class"] == {"w": 0.5, "x": pytest.approx(2 / 3), "y": 0.0, "z": None}  # z never in a


def test_real_units_of_ir_tensors():
    """The report compares the hardware with the float model in real units: q * 2^-f, with one f per
    channel for accumulators and one per tensor for activation codes."""
    from unetaccel.ir import randnet
    from unetaccel.reporting import _real
    net = randnet.random_unet(widths=(4, 8), num_classes=3, size=(8, 8), seed=3)
    acc = next(t for t in net.tensors.values() if t.type.per_channel)
    act = next(t for t in net.tensors.values() if not t.type.per_channel)
    q = np.arange(2 * acc.shape[0] * 4, dtype=np.int64).reshape(2, acc.shape[0], 2, 2) - 7
    want = q * np.array([2.0 ** -f for f in acc.type.channel_f]).reshape(1, -1, 1, 1)
    np.testing.assert_array_equal(_real(net, acc.name, q), want)
    np.testing.assert_array_equal(_real(net, act.name, np.full((1, 1, 1, 1), 96)), np.full((1, 1, 1, 1), 96 * 2.0 ** -act.type.tensor_f))
