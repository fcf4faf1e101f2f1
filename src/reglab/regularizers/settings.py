"""The value types and nested schemas the regularizers' settings share (rates per layer, the
early-stopping, lr-decay and augmentation nodes). Torch-free: validating a config does not
import torch. Each regularizer's own keys are declared in its module in `kinds/`."""

from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, NonNegativeFloat, NonNegativeInt, PositiveInt, Tag

from reglab.config.base import Schema

# torch: nn.functional.dropout; scratch: d2l 4.6's mask (faster on CPU); auto: scratch on CPU
DropoutImpl = Literal["auto", "torch", "scratch"]
# after_activation: Linear -> act -> Dropout (d2l 4.6); before_activation: Linear -> Dropout -> act
# (the d2l exercise that drops pre-activations).
DropoutPlacement = Literal["after_activation", "before_activation"]
# element: each activation of a feature map on its own; channel: whole maps (nn.Dropout2d)
ConvDropoutMode = Literal["element", "channel"]


class EarlyStoppingConfig(Schema):
    monitor: str = "val/loss"
    patience: PositiveInt = 5
    min_delta: NonNegativeFloat = 0.0
    # auto: min for losses, max for anything else (accuracy)
    mode: Literal["auto", "min", "max"] = "auto"

    @property
    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "min" if self.monitor.endswith("loss") else "max"


class LRDecayConfig(Schema):
    schedule: Literal["step", "cosine"] = "step"
    step_size: PositiveInt = 10  # step
    gamma: float = Field(default=0.5, gt=0.0, le=1.0)  # step
    min_lr: NonNegativeFloat = 0.0  # cosine


class AugmentConfig(Schema):
    crop_padding: NonNegativeInt = 4  # random crop of the original size from a padded image
    flip: float = Field(default=0.5, ge=0, le=1)  # probability of a horizontal flip
    grayscale: float = Field(default=0.0, ge=0, le=1)  # probability of grayscale (RGB only)


DropoutRate = Annotated[float, Field(ge=0.0, lt=1.0)]
# A single rate or one per layer. The callable discriminator makes pydantic report errors of
# the form that was given only; "tag:" parts are dropped from error keys (config/errors.py).
DropoutRates = Annotated[
    Union[  # noqa: UP007
        Annotated[DropoutRate, Tag("tag:one")],
        Annotated[list[DropoutRate], Tag("tag:per_layer")],
    ],
    Discriminator(lambda v: "tag:per_layer" if isinstance(v, (list, tuple)) else "tag:one"),
]
NoiseStd = Annotated[float, Field(ge=0.0)]
NoiseStds = Annotated[
    Union[  # noqa: UP007
        Annotated[NoiseStd, Tag("tag:one")],
        Annotated[list[NoiseStd], Tag("tag:per_layer")],
    ],
    Discriminator(lambda v: "tag:per_layer" if isinstance(v, (list, tuple)) else "tag:one"),
]
