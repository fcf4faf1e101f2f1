"""Epoch metrics: batch means weighted by batch size, NaN kept."""

import math

import torch

from reglab.lit.weighted_mean import WeightedMean


def test_weighted_mean_counts_samples_not_batches():
    losses = torch.rand(1000)
    mean = WeightedMean()
    for chunk in losses.split(300):  # batches of 300, 300, 300, 100
        mean.update(chunk.mean(), weight=len(chunk))
    assert math.isclose(mean.compute().item(), losses.mean().item(), rel_tol=1e-6)


def test_weighted_mean_keeps_nan():
    mean = WeightedMean()
    mean.update(torch.tensor(float("nan")), weight=4)
    mean.update(torch.tensor(1.0), weight=4)
    assert math.isnan(mean.compute().item())
