"""Multilayer perceptron: Flatten -> [Linear -> activation -> Dropout] x L -> Linear."""

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, PositiveInt
from torch import nn

from reglab.config.base import Schema
from reglab.models.init import InitScheme, initialize
from reglab.regularizers.dropout import Dropout, DropoutImpl

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLPConfig(Schema):
    name: Literal["mlp"]
    hidden: list[PositiveInt] = Field(default=[256, 256], min_length=1)
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    init: InitScheme = "default"

    @property
    def num_hidden_layers(self) -> int:
        return len(self.hidden)


class MLP(nn.Module):
    """A plain `nn.Module`; dropout rates come from the regularizer, one per hidden layer."""

    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
        dropout: Sequence[float] = (),
        dropout_impl: DropoutImpl = "auto",
    ):
        super().__init__()
        dropout = list(dropout) or [0.0] * len(hidden)
        if len(dropout) != len(hidden):
            raise ValueError(f"{len(dropout)} dropout rates for {len(hidden)} hidden layers")
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for size, rate in zip(hidden, dropout, strict=True):
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            if rate > 0:  # a zero-rate Dropout still costs a kernel per step
                layers.append(Dropout(rate, dropout_impl))
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def build_mlp(
    cfg: MLPConfig,
    in_shape: Sequence[int],
    num_outputs: int,
    dropout: Sequence[float],
    dropout_impl: DropoutImpl = "auto",
):
    net = MLP(in_shape, num_outputs, cfg.hidden, cfg.activation, dropout, dropout_impl)
    return initialize(net, cfg.init)
