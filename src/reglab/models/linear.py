"""A single linear layer (`model=linear`): linear and polynomial regression (d2l 4.4, 4.5)."""

import math
from collections.abc import Sequence
from typing import Literal

from torch import nn

from reglab.config.base import Schema
from reglab.models.init import InitScheme, initialize


class LinearConfig(Schema):
    name: Literal["linear"]
    bias: bool = True
    init: InitScheme = "default"

    @property
    def num_hidden_layers(self) -> int:
        return 0  # so no dropout


class Linear(nn.Module):
    def __init__(self, in_shape: Sequence[int], num_outputs: int, bias: bool = True):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(in_shape), num_outputs, bias=bias)
        )

    @property
    def linear(self) -> nn.Linear:
        return self.layers[1]

    def forward(self, x):
        return self.layers(x)


def build_linear(cfg: LinearConfig, in_shape, num_outputs, regularization=None):
    return initialize(Linear(in_shape, num_outputs, cfg.bias), cfg.init)
