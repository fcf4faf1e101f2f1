"""What a RegLabModule is built from: the run config's `model`, `regularizer` and `optimizer`
sections and `hardware.compile`. Torch-free, as every schema.

A run passes its whole validated RunConfig (reglab.app.settings), which has these sections; a
checkpoint stores that config once, as a dict, and `ModuleSettings` validates the part of it
the module builds from (the rest of a stored config is data nothing is built from).
"""

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from reglab.config.base import Schema
from reglab.config.targets import TargetConfig, check_keywords
from reglab.models.config import ModelSchema
from reglab.regularizers.config import RegularizerConfig


class OptimizerConfig(TargetConfig):
    """Any torch optimizer, instantiated as a partial; its keyword arguments are checked."""

    partial: Literal[True] = Field(alias="_partial_")
    lr: float = Field(gt=0)

    @model_validator(mode="after")
    def _known_arguments(self):
        extra = self.keywords()
        if "weight_decay" in extra:
            raise ValueError(
                "optimizer.weight_decay is not used: set regularizer.weight_decay "
                "(or choose regularizer=weight_decay), which decays weights but not biases"
            )
        check_keywords("optimizer", self.target, ["lr", *extra], supplied=("params",))
        momentum = extra.get("momentum")
        if momentum is not None and not 0 <= float(momentum) < 1:
            raise ValueError(f"optimizer.momentum must lie in [0, 1), got {momentum}")
        return self

    def factory_config(self) -> dict:
        """What hydra's instantiate turns into `partial(Optimizer, lr=..., ...)`."""
        return self.model_dump(by_alias=True)


class CompileSetting(Schema):
    """hardware.compile of a stored config (its other hardware keys are this machine's)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    compile: bool


class ModuleSettings(Schema):
    """The sections of a checkpoint's stored run config that RegLabModule builds from."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    model: ModelSchema
    regularizer: RegularizerConfig
    optimizer: OptimizerConfig
    hardware: CompileSetting
