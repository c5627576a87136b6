"""Segmentation losses and metrics (confusion-matrix based, ignore index honoured)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import UnetaccelError

from ..scores import IGNORE_INDEX, confusion, metrics_from_confusion, segmentation_metrics  # noqa: F401 (re-exported)


class LossConfigError(UnetaccelError, ValueError):
    """A loss setting out of range (beta)."""


class ClassWeightsError(UnetaccelError, ValueError):
    """Cross-entropy class weights that are not one positive number per class."""


def check_class_weights(weights, num_classes: int | None = None) -> list[float]:
    """The weights as floats: finite, positive and (given num_classes) one per class."""
    try:
        w = [float(v) for v in weights]
    except (TypeError, ValueError):
        raise ClassWeightsError(f"expected a list of numbers, got {weights!r}") from None
    for i, v in enumerate(w):
        if not math.isfinite(v) or v <= 0:
            raise ClassWeightsError(f"weight {i} is {v}; every class weight must be a positive number")
    if num_classes is not None and len(w) != num_classes:
        raise ClassWeightsError(f"{len(w)} weights for {num_classes} classes (one per class, in class order)")
    return w


def dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX,
              eps: float = 1.0) -> torch.Tensor:
    """Soft multi-class Dice loss (1 - mean Dice over classes present in batch or prediction)."""
    k = logits.shape[1]
    valid = (target != ignore_index)
    prob = logits.softmax(dim=1) * valid.unsqueeze(1)
    onehot = F.one_hot(torch.where(valid, target, 0), k).permute(0, 3, 1, 2).to(prob.dtype)
    onehot = onehot * valid.unsqueeze(1)
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    denom = prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = (2 * inter + eps) / (denom + eps)
    return 1 - dice.mean()


class SegLoss(torch.nn.Module):
    """beta * CrossEntropy + (1 - beta) * Dice."""

    def __init__(self, beta: float = 0.5, class_weights=None, ignore_index: int = IGNORE_INDEX):
        super().__init__()
        if not 0.0 <= beta <= 1.0:
            raise LossConfigError(f"beta = {beta}: must be in [0, 1]")
        self.beta = beta
        self.ignore_index = ignore_index
        w = None if class_weights is None else torch.as_tensor(check_class_weights(class_weights), dtype=torch.float32)
        self.register_buffer("class_weights", w)

    def forward(self, logits, target):
        if self.class_weights is not None and len(self.class_weights) != logits.shape[1]:
            raise ClassWeightsError(f"{len(self.class_weights)} weights for {logits.shape[1]} classes "
                                    "(one per class, in class order)")
        ce = F.cross_entropy(logits, target, weight=self.class_weights, ignore_index=self.ignore_index)
        if self.beta == 1.0:
            return ce
        return self.beta * ce + (1 - self.beta) * dice_loss(logits, target, self.ignore_index)


