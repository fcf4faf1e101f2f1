"""Weight decay (`regularizer=weight_decay`): optimizer parameter groups that decay weights only.

Biases and normalization parameters are left alone, as in d2l's concise implementation.
"""

from collections.abc import Iterator

from torch import nn

# Layers whose `weight` is a weight matrix / kernel; a norm layer's weight is a scale.
WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def weight_parameters(net: nn.Module) -> Iterator[nn.Parameter]:
    """The weights that decay and the explicit penalties act on."""
    for module in net.modules():
        if isinstance(module, WEIGHT_LAYERS):
            yield module.weight


def parameter_groups(net: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer groups: weights with `weight_decay`, everything else without."""
    weights = list(weight_parameters(net))
    weight_ids = {id(p) for p in weights}
    others = [p for p in net.parameters() if id(p) not in weight_ids]
    groups = [{"params": weights, "weight_decay": weight_decay}]
    if others:
        groups.append({"params": others, "weight_decay": 0.0})
    return groups
