"""Schema of the `regularizer` node: every regularizer's keys, all off by default."""

from typing import Annotated, ClassVar, Union

from pydantic import Discriminator, Field, NonNegativeFloat, Tag

from reglab.config.base import Schema
from reglab.regularizers.augment import AugmentConfig
from reglab.regularizers.conv_dropout import ConvDropoutMode
from reglab.regularizers.dropout import DropoutImpl, DropoutPlacement
from reglab.regularizers.early_stopping import EarlyStoppingConfig
from reglab.regularizers.lr_decay import LRDecayConfig

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
