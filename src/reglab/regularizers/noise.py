"""Gaussian noise injection (`regularizer=noise`): the "noise layer" of the d2l dropout exercise.

Adds N(0, std^2) to each hidden activation in training only; evaluation sees clean activations.
"""

import torch
from torch import nn


class GaussianNoise(nn.Module):
    # stacked replicas with different stds hold one per replica (reglab.replicas.stack)
    replica_attributes = ("std",)

    def __init__(self, std: float):
        super().__init__()
        if std < 0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or (not torch.is_tensor(self.std) and self.std == 0.0):
            return x
        return x + torch.randn_like(x) * self.std

    def extra_repr(self) -> str:
        return f"std={self.std}"
