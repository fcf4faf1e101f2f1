"""Weight initialisation schemes, selected with `model.init`."""

from typing import Literal

from torch import nn

InitScheme = Literal["default", "normal", "unit_normal"]


def initialize(net: nn.Module, scheme: InitScheme) -> nn.Module:
    """Re-initialises the Linear and Conv layers of `net` in place.

    default: PyTorch's own initialisation (nothing to do).
    normal:  weights ~ N(0, 0.01), biases 0 (d2l 4.2 / 4.6).
    unit_normal: weights ~ N(0, 1), biases 0 (d2l 4.5's weight-decay experiment).
    """
    if scheme == "default":
        return net
    for module in net.modules():
        if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            std = {"normal": 0.01, "unit_normal": 1.0}[scheme]
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return net
