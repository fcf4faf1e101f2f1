"""Models (config group `model`): plain `nn.Module`s built from a validated config."""

from collections.abc import Sequence

from torch import nn

from reglab.models.lenet import LeNet, LeNetConfig, build_lenet
from reglab.models.linear import Linear, LinearConfig, build_linear
from reglab.models.mlp import MLP, MLPConfig, build_mlp

# One entry per `model=` option: its config schema and its builder.
SCHEMAS = {"mlp": MLPConfig, "linear": LinearConfig, "lenet": LeNetConfig, "lenet_bn": LeNetConfig}
_BUILDERS = {
    "mlp": build_mlp,
    "linear": build_linear,
    "lenet": build_lenet,
    "lenet_bn": build_lenet,
}
ModelConfig = MLPConfig | LinearConfig | LeNetConfig


def build_model(
    cfg: ModelConfig, in_shape: Sequence[int], num_outputs: int, regularization
) -> nn.Module:
    """Builds the network for a data set's input shape and number of outputs; the
    regularization supplies what goes around hidden activations (dropout, noise)."""
    return _BUILDERS[cfg.name](cfg, in_shape, num_outputs, regularization)


__all__ = [
    "MLP",
    "SCHEMAS",
    "LeNet",
    "LeNetConfig",
    "Linear",
    "LinearConfig",
    "MLPConfig",
    "ModelConfig",
    "build_model",
]
