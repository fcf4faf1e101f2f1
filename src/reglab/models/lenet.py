"""LeNet-5 (`model=lenet`) and the course's LeNet-BN (`model=lenet_bn`).

conv 5x5 (6) -> [norm] -> [conv dropout] -> act -> pool -> conv 5x5 (16) -> [norm]
-> [conv dropout] -> act -> pool
-> fc 120 -> [norm] -> act -> [dropout] -> fc 84 -> act -> [dropout] -> fc classes

The first conv is padded by 2 on 28x28 inputs (d2l 6.6), so both 1x28x28 and 3x32x32 inputs
reach the classifier as 16x5x5. Regularizers act around the two hidden fc activations, as the
MLP's; the course's LeNet-BN normalises after both convs and after fc1 only.
"""

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, PositiveInt, model_validator
from torch import nn

from reglab.config.base import Schema
from reglab.models.init import InitScheme, initialize
from reglab.models.mlp import ACTIVATIONS
from reglab.models.norm import NormKind, check_groups, conv_norm, dense_norm

POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNetConfig(Schema):
    name: Literal["lenet", "lenet_bn"]
    channels: list[PositiveInt] = Field(default=[6, 16], min_length=2, max_length=2)
    hidden: list[PositiveInt] = Field(default=[120, 84], min_length=2, max_length=2)
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    pool: Literal["max", "avg"] = "max"
    norm: NormKind = "none"
    norm_groups: PositiveInt = 2
    init: InitScheme = "default"

    @property
    def num_hidden_layers(self) -> int:
        return len(self.hidden)

    @model_validator(mode="after")
    def _groups_divide(self):
        sizes = [*self.channels, self.hidden[0]]
        check_groups(self.norm, self.norm_groups, sizes, "the channels and fc1's width")
        return self


def _first_padding(in_shape: Sequence[int]) -> int:
    _, height, width = in_shape
    if (height, width) == (28, 28):
        return 2
    if (height, width) == (32, 32):
        return 0
    raise ValueError(f"LeNet takes 28x28 or 32x32 images, not {height}x{width}")


class LeNet(nn.Module):
    def __init__(
        self,
        in_shape: Sequence[int],
        num_outputs: int,
        channels: Sequence[int] = (6, 16),
        hidden: Sequence[int] = (120, 84),
        activation: str = "relu",
        pool: str = "max",
        norm: NormKind = "none",
        norm_groups: int = 2,
        around_activation: Sequence[tuple[list[nn.Module], list[nn.Module]]] | None = None,
        after_conv: Sequence[list[nn.Module]] | None = None,
    ):
        super().__init__()
        if len(in_shape) != 3:
            raise ValueError(f"LeNet takes images (C, H, W), not inputs of shape {in_shape}")
        act = ACTIVATIONS[activation]
        c1, c2 = channels
        # conv dropout: after each conv (and its norm), before its activation and pooling
        drop1, drop2 = after_conv or ([], [])
        self.features = nn.Sequential(
            nn.Conv2d(in_shape[0], c1, 5, padding=_first_padding(in_shape)),
            *conv_norm(norm, c1, norm_groups),
            *drop1,
            act(),
            POOLS[pool](2),
            nn.Conv2d(c1, c2, 5),
            *conv_norm(norm, c2, norm_groups),
            *drop2,
            act(),
            POOLS[pool](2),
            nn.Flatten(),
        )
        around = around_activation or [([], [])] * len(hidden)
        # instance norm has no meaning for a feature vector: fc layers go without it
        fc_norm = "none" if norm == "instance" else norm
        layers: list[nn.Module] = []
        width = c2 * 5 * 5
        for i, (size, (pre, post)) in enumerate(zip(hidden, around, strict=True)):
            norms = dense_norm(fc_norm, size, norm_groups) if i == 0 else []
            layers += [nn.Linear(width, size), *norms, *pre, act(), *post]
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.classifier = nn.Sequential(*layers)

    def forward(self, x):
        return self.classifier(self.features(x))


def build_lenet(cfg: LeNetConfig, in_shape: Sequence[int], num_outputs: int, regularization):
    net = LeNet(
        in_shape,
        num_outputs,
        cfg.channels,
        cfg.hidden,
        cfg.activation,
        cfg.pool,
        cfg.norm,
        cfg.norm_groups,
        around_activation=regularization.hidden_modules(cfg.num_hidden_layers),
        after_conv=regularization.conv_modules(len(cfg.channels)),
    )
    regularization.apply_dropconnect(net.classifier, cfg.num_hidden_layers)
    return initialize(net, cfg.init)
