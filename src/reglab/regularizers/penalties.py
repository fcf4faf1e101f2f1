"""Explicit penalties added to the loss (`regularizer=l2`, `regularizer=l1`)."""

from collections.abc import Iterable

import torch


def l2_penalty(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """sum(w^2) / 2 over all weights (d2l 4.5's `l2_penalty`)."""
    return sum(w.pow(2).sum() for w in weights) / 2


def l1_penalty(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """sum(|w|) over all weights."""
    return sum(w.abs().sum() for w in weights)
