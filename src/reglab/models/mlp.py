"""Multilayer perceptron: Flatten -> [Linear -> [norm] -> activation -> Dropout] x L -> Linear."""

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import Field, PositiveInt, model_validator
from torch import nn

from reglab.config.base import Schema
from reglab.models.init import InitScheme, initialize
from reglab.models.norm import NormKind, check_groups, dense_norm
from reglab.regularizers.dropout import Dropout, DropoutImpl

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLPConfig(Schema):
    name: Literal["mlp"]
    hidden: list[PositiveInt] = Field(default=[256, 256], min_length=1)
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    # after each hidden Linear, before its activation; instance norm needs conv layers
    norm: Literal["none", "batch", "layer", "group"] = "none"
    norm_groups: PositiveInt = 2
    init: InitScheme = "default"

    @property
    def num_hidden_layers(self) -> int:
        return len(self.hidden)

    @model_validator(mode="after")
    def _groups_divide(self):
        check_groups(self.norm, self.norm_groups, self.hidden, "every hidden width")
        return self


class MLP(nn.Module):
    """A plain `nn.Module`: [Linear -> pre -> activation -> post] per hidden layer -> Linear.

    `around_activation` gives, per hidden layer, the modules before and after its activation
    (dropout, noise: see `Regularization.hidden_modules`); `dropout` is a shorthand for rates
    after each activation.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        hidden: Sequence[int] = (256, 256),
        activation: str = "relu",
        dropout: Sequence[float] = (),
        dropout_impl: DropoutImpl = "auto",
        around_activation: Sequence[tuple[list[nn.Module], list[nn.Module]]] | None = None,
        norm: NormKind = "none",
        norm_groups: int = 2,
    ):
        super().__init__()
        if around_activation is None:
            rates = list(dropout) or [0.0] * len(hidden)
            if len(rates) != len(hidden):
                raise ValueError(f"{len(rates)} dropout rates for {len(hidden)} hidden layers")
            # a zero-rate Dropout still costs a kernel per step: leave it out
            around_activation = [([], [Dropout(r, dropout_impl)] if r > 0 else []) for r in rates]
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for size, (pre, post) in zip(hidden, around_activation, strict=True):
            norms = dense_norm(norm, size, norm_groups)
            layers += [nn.Linear(width, size), *norms, *pre, ACTIVATIONS[activation](), *post]
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def build_mlp(cfg: MLPConfig, in_shape: Sequence[int], num_outputs: int, regularization):
    around = regularization.hidden_modules(cfg.num_hidden_layers)
    net = MLP(
        in_shape,
        num_outputs,
        cfg.hidden,
        cfg.activation,
        around_activation=around,
        norm=cfg.norm,
        norm_groups=cfg.norm_groups,
    )
    regularization.apply_dropconnect(net.layers, cfg.num_hidden_layers)
    return initialize(net, cfg.init)
