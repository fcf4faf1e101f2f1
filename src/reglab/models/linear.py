"""A single linear layer (`model=linear`): linear and polynomial regression (d2l 4.4, 4.5)."""

import math
from collections.abc import Sequence

from torch import nn


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
