"""Builds the `nn.Module` a validated `model` config names, built-in or a user's: one path."""

from collections.abc import Sequence

from torch import nn

from reglab.config.errors import ConfigError
from reglab.config.signatures import TargetError, import_class, signature_of
from reglab.models.config import ModelConfig
from reglab.models.init import initialize
from reglab.models.outputs import check_outputs
from reglab.regularizers.regularization import Regularization


def model_label(cfg: ModelConfig) -> str:
    """How messages name the model: `model=mlp`, or `model._target_=pkg.Net` for a user's."""
    return f"model={cfg.name}" if cfg.name else f"model._target_={cfg.target}"


def build_model(
    cfg: ModelConfig,
    in_shape: Sequence[int],
    num_outputs: int,
    regularization: Regularization,
    task: str | None = None,
) -> nn.Module:
    """`cfg._target_(**keywords)`, given the data set's `in_shape` and `num_outputs` and the
    regularizers' `hooks` where the constructor takes them; its outputs checked on a probe
    batch (reglab.models.outputs; `task`: the data set's, for the message); then `model.init`."""
    try:
        # checked before it is called: a stored config's `_target_` is data, not code to run
        cls = import_class(cfg.target, nn.Module, "an nn.Module subclass")
    except TargetError as exc:
        raise ConfigError(f"model._target_: {exc}") from None
    signature = signature_of(cfg.target)
    label = model_label(cfg)
    hooks = regularization.hooks(label)
    supplied = {"in_shape": tuple(in_shape), "num_outputs": num_outputs, "hooks": hooks}
    keywords = cfg.keywords() | {k: v for k, v in supplied.items() if k in signature.names}
    net = cls(**keywords)
    if not isinstance(net, nn.Module):
        raise ConfigError(
            f"model._target_={cfg.target} built a {type(net).__name__}, not an nn.Module"
        )
    hooks.check_used(takes_hooks="hooks" in signature.names)
    check_outputs(net, in_shape, num_outputs, task, label)
    return initialize(net, cfg.init)
