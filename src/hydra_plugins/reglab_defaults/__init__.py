"""Hands Hydra the defaults that reglab's schemas hold, so each default is written once.

Hydra imports every module of the `hydra_plugins` namespace package before it composes a
config (its plugin discovery); this one stores, in Hydra's ConfigStore:

    reglab_defaults/regularizer          every regularizer key, off (train.yaml's defaults list
                                         puts it under `regularizer` before any option)
    reglab_defaults/regularizer/<key>    a nested node's defaults (early_stopping, lr_decay,
                                         augment): an option that turns it on takes them with
                                         `defaults: [/reglab_defaults/regularizer/<key>@<key>]`

so `regularizer.l2=1e-3` and `regularizer.augment.flip=0.3` stay plain overrides while the
values live only in the pydantic schemas (reglab.regularizers.kinds). Torch-free.
"""

import typing

from hydra.core.config_store import ConfigStore
from pydantic import BaseModel

from reglab.regularizers.config import RegularizerConfig, defaults


def _nested_schema(annotation) -> type[BaseModel] | None:
    """X for a field typed `X | None` with X a schema."""
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def store_defaults() -> None:
    put = ConfigStore.instance().store
    put(group="reglab_defaults", name="regularizer", node=defaults(), provider="reglab")
    for key, field in RegularizerConfig.model_fields.items():
        schema = _nested_schema(field.annotation)
        if schema is not None:
            node = schema().model_dump(mode="json")
            put(group="reglab_defaults/regularizer", name=key, node=node, provider="reglab")


store_defaults()
