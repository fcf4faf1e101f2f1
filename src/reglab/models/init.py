"""Weight initialisation schemes, selected with `model.init`."""

from torch import nn

from reglab.models.config import InitScheme

WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d)
NORM_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)


def initialize(net: nn.Module, scheme: InitScheme) -> nn.Module:
    """Re-initialises the Linear and Conv layers of `net` in place; biases become 0.

    default: PyTorch's own initialisation (nothing to do).
    normal:  weights ~ N(0, 0.01) (d2l 4.2 / 4.6).
    unit_normal: weights ~ N(0, 1) (d2l 4.5's weight-decay experiment).
    xavier:  Xavier-uniform weights (d2l 5.4).
    course:  the DeepShare course's `initialize_weights`: Xavier-normal convs, N(0, 1)
             linears, norm layers γ=1 β=0. Its N(0, 1) fc weights make plain LeNet's loss
             explode; LeNet-BN absorbs it (the course's batch-norm lesson).
    """
    if scheme == "default":
        return net
    for module in net.modules():
        if isinstance(module, WEIGHTED):
            _init_weight(module, scheme)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif scheme == "course" and isinstance(module, NORM_LAYERS) and module.weight is not None:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return net


def _init_weight(module: nn.Module, scheme: InitScheme) -> None:
    if scheme == "normal":
        nn.init.normal_(module.weight, 0.0, 0.01)
    elif scheme == "unit_normal":
        nn.init.normal_(module.weight, 0.0, 1.0)
    elif scheme == "xavier":
        nn.init.xavier_uniform_(module.weight)
    elif isinstance(module, nn.Linear):  # course
        nn.init.normal_(module.weight, 0.0, 1.0)
    else:
        nn.init.xavier_normal_(module.weight)
