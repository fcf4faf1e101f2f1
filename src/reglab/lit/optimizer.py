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
    return functools.partial(cls, **{k: v for k, v in optimizer.items() if k not in RESERVED})
