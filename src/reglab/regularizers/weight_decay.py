"""The weights regularizers act on, and the optimizer parameter groups that decay them only.

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


def parameter_groups(net: nn.Module, weight_options: dict | None = None) -> list[dict]:
    """Two optimizer groups: the weights with `weight_options` (the regularizers' options of
    the weights' group, e.g. weight_decay), everything else without weight decay."""
    weights = list(weight_parameters(net))
    weight_ids = {id(p) for p in weights}
    others = [p for p in net.parameters() if id(p) not in weight_ids]
    groups = [{"params": weights, "weight_decay": 0.0, **(weight_options or {})}]
    if others:
        groups.append({"params": others, "weight_decay": 0.0})
    return groups
