"""Schema of the `regularizer` node: every regularizer's keys, all off by default.
Torch-free: validating a config does not import torch."""

from typing import Annotated, ClassVar, Literal, Union

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


class RegularizerConfig(Schema):
    # One rate per hidden layer, or a single rate for every layer; rates lie in [0, 1).
    dropout: DropoutRates = 0.0
    dropout_impl: DropoutImpl = "auto"
    dropout_placement: DropoutPlacement = "after_activation"
    # DropConnect: a 0/1 mask over each hidden layer's weight matrix per training step
    dropconnect: DropoutRates = 0.0
    # dropout after each conv (before its activation and pooling), per conv layer or one
    conv_dropout: DropoutRates = 0.0
    conv_dropout_mode: ConvDropoutMode = "element"
    # std of Gaussian noise added to each hidden activation in training, per layer or one
    noise: NoiseStds = 0.0
    weight_decay: NonNegativeFloat = 0.0
    l2: NonNegativeFloat = 0.0
    l1: NonNegativeFloat = 0.0
    early_stopping: EarlyStoppingConfig | None = None
    lr_decay: LRDecayConfig | None = None
    augment: AugmentConfig | None = None

    # Keys that say how a regularizer works rather than switching one on.
    SETTINGS: ClassVar[frozenset[str]] = frozenset(
        {"dropout_impl", "dropout_placement", "conv_dropout_mode"}
    )


# The regularizers that act through a model's hidden-layer hook (reglab.regularizers.hooks):
# on hidden fully connected layers, and on conv layers.
HIDDEN = ("dropout", "noise", "dropconnect")
CONV = ("conv_dropout",)


def is_on(value) -> bool:
    """A rate (or a list of per-layer rates) that switches its regularizer on."""
    return any(v > 0 for v in value) if isinstance(value, list) else value > 0
