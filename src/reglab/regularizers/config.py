"""Schema of the `regularizer` node: the keys every regularizer declares (kinds/), all off by
default, and the only place those defaults are written (configs/ states what an option turns
on; hydra_plugins/reglab_defaults hands these defaults to Hydra). Torch-free."""

from reglab.regularizers.kinds import REGULARIZERS
from reglab.regularizers.protocol import is_on

__all__ = ["CONV", "HIDDEN", "RegularizerConfig", "defaults", "is_on"]


def _settings() -> list[type]:
    seen: dict[str, str] = {}
    for regularizer in REGULARIZERS:
        for key in regularizer.Settings.model_fields:
            if key in seen:  # two modules claiming one key: a programming error
                raise TypeError(f"regularizer.{key} is declared by {seen[key]} and {regularizer}")
            seen[key] = regularizer.__name__
    # pydantic lists the fields of the last base first: reversed keeps the declared order
    return [r.Settings for r in reversed(REGULARIZERS)]


class RegularizerConfig(*_settings()):
    """Every regularizer's keys (one Settings class each, composed)."""


def defaults() -> dict:
    """The `regularizer` node as Hydra composes it before any option: every key off."""
    return RegularizerConfig().model_dump(mode="json")


# The regularizers that act through a model's hidden-layer hook (reglab.regularizers.hooks):
# on hidden fully connected layers, and on conv layers.
HIDDEN = tuple(r.switch for r in REGULARIZERS if r.layers == "hidden")
CONV = tuple(r.switch for r in REGULARIZERS if r.layers == "conv")
