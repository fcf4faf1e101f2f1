"""Layers named by their role ("conv 1", "hidden 1", ..., "output"), not their position.

Position names (`layers.3`) shift when dropout or norm modules are inserted, so the same
name points at different layers in two jobs of a sweep. Every place that names a layer
(weight norms, histograms, activation statistics, metrics.csv columns, W&B keys, sweep
figures) goes through this module, so a role means the same layer in every job.

Roles follow the order in which the weight layers are registered (the order of the forward
pass in reglab's models): convolutions are "conv 1", "conv 2", ...; the last fully connected
layer is "output" and the ones before it "hidden 1", "hidden 2", ....
"""

from collections.abc import Iterable

from torch import nn

from reglab.regularizers.weight_decay import WEIGHT_LAYERS


def roles(kinds: Iterable[str]) -> list[str]:
    """Role names for weight layers given in forward order by kind ("conv" or "linear")."""
    kinds = list(kinds)
    last_linear = max((i for i, k in enumerate(kinds) if k == "linear"), default=-1)
    names, counts = [], {"conv": 0, "hidden": 0}
    for i, kind in enumerate(kinds):
        if kind == "linear" and i == last_linear:
            names.append("output")
            continue
        group = "conv" if kind == "conv" else "hidden"
        counts[group] += 1
        names.append(f"{group} {counts[group]}")
    return names


def key(role: str) -> str:
    """The role as a metric/file-friendly key: "hidden 1" -> "hidden_1"."""
    return role.replace(" ", "_")


def _kind(module: nn.Module) -> str:
    return "linear" if isinstance(module, nn.Linear) else "conv"


def weight_layers_by_role(net: nn.Module) -> dict[str, nn.Module]:
    """{"hidden 1": Linear, ..., "output": Linear} for the layers with a weight matrix/kernel."""
    layers = [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]
    return dict(zip(roles(_kind(m) for m in layers), layers, strict=True))


def state_dict_weights_by_role(state: dict, prefix: str = "net.") -> dict:
    """The same roles for the weight tensors of a saved state dict (a checkpoint): a
    weight of 2 dimensions is a linear layer's, of more a convolution's; 1-dimensional
    weights are norm scales. The state dict keeps the modules' registration order."""
    weights = [
        tensor
        for name, tensor in state.items()
        if name.startswith(prefix) and name.endswith(".weight") and tensor.dim() >= 2
    ]
    kinds = ["linear" if t.dim() == 2 else "conv" for t in weights]
    return dict(zip(roles(kinds), weights, strict=True))


def hidden_weight_names(net: nn.Module) -> list[str]:
    """The parameter names of the hidden layers' weight matrices ("hidden 1", ...: the fully
    connected layers before the output), in forward order: what max-norm constrains."""
    names = {module: name for name, module in net.named_modules()}
    return [
        f"{names[module]}.weight" if names[module] else "weight"
        for role, module in weight_layers_by_role(net).items()
        if role.startswith("hidden")
    ]
