"""The optimizer a config names, as a factory of parameter groups -> optimizer.

Not Hydra's `instantiate`: the `optimizer` section is also read back from checkpoints, and
instantiate calls any `_target_` it finds, nested ones included. Here the class is checked to
be a torch optimizer before anything is called, and its keywords stay plain data.
"""

import functools
from collections.abc import Callable

import torch

from reglab.config.errors import ConfigError
from reglab.config.signatures import TargetError, import_class

RESERVED = ("_target_", "_partial_")
# optimizers that take a single parameter group (torch raises on several)
ONE_GROUP = (torch.optim.LBFGS,)


def optimizer_factory(optimizer: dict) -> Callable[..., torch.optim.Optimizer]:
    """`partial(Optimizer, lr=..., **keywords)` for an `optimizer` section
    (`_target_`, `_partial_: true`, lr, ...)."""
    target = optimizer.get("_target_")
    try:
        cls = import_class(str(target), torch.optim.Optimizer, "a torch.optim.Optimizer subclass")
    except TargetError as exc:
        raise ConfigError(f"optimizer._target_: {exc}") from None
    nested = [k for k, v in optimizer.items() if isinstance(v, dict) and "_target_" in v]
    if nested:
        raise ConfigError(f"optimizer.{nested[0]}: a `_target_` inside an optimizer argument")
    keywords = {k: v for k, v in optimizer.items() if k not in RESERVED}
    if issubclass(cls, ONE_GROUP):
        return functools.partial(_in_one_group, cls, **keywords)
    return functools.partial(cls, **keywords)


def _in_one_group(cls: type, groups: list[dict], **keywords) -> torch.optim.Optimizer:
    """An optimizer that takes one parameter group (LBFGS) gets the regularizers' groups as
    one, where they ask for the same options (no regularizer.weight_decay)."""
    options = [{k: v for k, v in group.items() if k != "params"} for group in groups]
    if any(option != options[0] for option in options):
        raise ConfigError(
            f"optimizer._target_={cls.__module__}.{cls.__name__} takes one parameter group; the "
            f"regularizers ask for groups with different options ({options}). Fix: "
            "regularizer.weight_decay=0 (regularizer.l2 penalises the weights instead)"
        )
    params = [p for group in groups for p in group["params"]]
    return cls([{"params": params, **options[0]}], **keywords)
