"""Gaussian noise injection (`regularizer=noise`): the "noise layer" of the d2l dropout exercise.

Adds N(0, std^2) to each hidden activation in training only; evaluation sees clean activations.
"""

import torch
from torch import nn

from reglab.regularizers.dropout import is_on


def add_noise(x: torch.Tensor, std) -> torch.Tensor:
    """x + N(0, std^2) (std a number, or a tensor broadcasting against x: each replica's)."""
    return x + torch.randn_like(x) * std


class GaussianNoise(nn.Module):
    # stacked replicas with different stds hold one per replica (reglab.replicas.stack)
    replica_attributes = ("std",)

    def __init__(self, std: float):
        super().__init__()
        if std < 0:
            raise ValueError(f"noise std must be >= 0, got {std}")
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not is_on(self.std):
            return x
        return add_noise(x, self.std)

    def extra_repr(self) -> str:
        return f"std={self.std}"
