"""Multilayer perceptron (d2l 4.2): Flatten -> [Linear -> [norm] -> act -> [dropout]] x L ->
Linear."""

import math
from collections.abc import Sequence

from torch import nn

from reglab.models.config import Activation, NormKind
from reglab.models.norm import dense_norm
from reglab.regularizers.hooks import HiddenHooks, unpack

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLP(nn.Module):
    """A plain `nn.Module`. Per hidden layer: the hooks' Linear -> norm -> before_activation ->
    activation -> after_activation (see reglab.regularizers.hooks); then the output Linear.
    Without hooks it is the plain network."""

    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        hidden: Sequence[int] = (256, 256),
        activation: Activation = "relu",
        norm: NormKind = "none",
        norm_groups: int = 2,
        hooks: HiddenHooks | None = None,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for i, size in enumerate(hidden):
            linear = hooks.linear(i, width, size) if hooks else nn.Linear(width, size)
            layers += [linear, *dense_norm(norm, size, norm_groups)]
            layers += unpack(hooks.before_activation(i)) if hooks else []
            layers.append(ACTIVATIONS[activation]())
            layers += unpack(hooks.after_activation(i)) if hooks else []
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)
