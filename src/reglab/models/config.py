"""Schemas of the `model` group. Torch-free: validating a config does not import torch.

A model option names its class with `_target_`; its other keys are the constructor's keyword
arguments, except reglab's own (`name`, `init`). reglab supplies `in_shape` and `num_outputs`
(from the data set) and `hooks` (what regularizers put around hidden layers) to a constructor
that takes them. The built-in models have typed schemas below; any other `_target_` (a user's
model) is checked against its constructor's signature.
"""

from typing import ClassVar, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from reglab.config.targets import TargetConfig, TargetSchemas, check_keywords

InitScheme = Literal["default", "normal", "unit_normal", "xavier", "course"]
NormKind = Literal["none", "batch", "layer", "group", "instance"]
Activation = Literal["relu", "sigmoid", "tanh"]

# Arguments reglab passes to a model's constructor when it takes them.
SUPPLIED = ("in_shape", "num_outputs", "hooks")


class ModelConfig(TargetConfig):
    """What every model option has. `name` labels runs (None: the class name).

    The built-in options' values are written in their files (configs/model/), not here."""

    name: str | None
    # weight initialisation, applied by reglab to any model's Linear and Conv layers
    init: InitScheme
    OWN_KEYS: ClassVar[tuple[str, ...]] = ("_target_", "target", "name", "init")

    @property
    def label(self) -> str:
        return self.name or self.target.rpartition(".")[2].lower()

    @property
    def num_hidden_layers(self) -> int | None:
        """Known for the built-in models (per-layer regularizer lists are checked up front);
        a user's model reports its layers through the hooks it calls."""
        return None

    @property
    def num_convs(self) -> int | None:
        return None

    def keywords(self) -> dict:
        fields = self.model_dump(by_alias=True, exclude_none=False)
        return {k: v for k, v in fields.items() if k not in self.OWN_KEYS}


class HiddenLayersConfig(ModelConfig):
    """Models with hidden fully connected layers, normalised and regularised per layer."""

    model_config = ModelConfig.model_config | {"extra": "forbid"}
    hidden: list[PositiveInt] = Field(min_length=1)
    activation: Activation
    # after each hidden Linear, before its activation
    norm: NormKind
    norm_groups: PositiveInt

    @property
    def num_hidden_layers(self) -> int:
        return len(self.hidden)

    def _normalised_widths(self) -> list[int]:
        return list(self.hidden)

    @model_validator(mode="after")
    def _groups_divide(self):
        widths = self._normalised_widths()
        if self.norm == "group" and any(w % self.norm_groups for w in widths):
            raise ValueError(
                f"model.norm_groups={self.norm_groups} must divide every normalised width {widths}"
            )
        return self


class MLPConfig(HiddenLayersConfig):
    target: Literal["reglab.models.mlp.MLP"] = Field(alias="_target_")

    @field_validator("norm")
    @classmethod
    def _no_instance_norm(cls, norm: str) -> str:
        if norm == "instance":
            raise ValueError("model.norm=instance needs conv layers: choose model=lenet")
        return norm


class LeNetConfig(HiddenLayersConfig):
    target: Literal["reglab.models.lenet.LeNet"] = Field(alias="_target_")
    channels: list[PositiveInt] = Field(min_length=2, max_length=2)
    hidden: list[PositiveInt] = Field(min_length=2, max_length=2)
    pool: Literal["max", "avg"]

    @property
    def num_convs(self) -> int:
        return len(self.channels)

    def _normalised_widths(self) -> list[int]:
        return [*self.channels, self.hidden[0]]  # the course's LeNet-BN: convs and fc1


class LinearConfig(ModelConfig):
    model_config = ModelConfig.model_config | {"extra": "forbid"}
    target: Literal["reglab.models.linear.Linear"] = Field(alias="_target_")
    bias: bool

    @property
    def num_hidden_layers(self) -> int:
        return 0  # so no dropout


class UserModelConfig(ModelConfig):
    """Any other `_target_`: its keys are checked against the constructor's signature."""

    name: str | None = None
    init: InitScheme = "default"

    @model_validator(mode="after")
    def _known_arguments(self):
        check_keywords("model", self.target, self.keywords(), supplied=SUPPLIED)
        return self


BUILT_IN = (MLPConfig, LeNetConfig, LinearConfig)
SCHEMAS = TargetSchemas(BUILT_IN, UserModelConfig)
# A built-in `_target_` gets its typed schema; any other the signature-checked one.
ModelSchema = SCHEMAS.union
