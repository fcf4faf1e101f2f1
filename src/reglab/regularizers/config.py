"""Schema of the `regularizer` node: every regularizer's keys, all off by default."""

from typing import Annotated, Union

from pydantic import Discriminator, Field, NonNegativeFloat, Tag

from reglab.config.base import Schema
from reglab.regularizers.dropout import DropoutImpl

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


class RegularizerConfig(Schema):
    # One rate per hidden layer, or a single rate for every layer; rates lie in [0, 1).
    dropout: DropoutRates = 0.0
    dropout_impl: DropoutImpl = "auto"
    weight_decay: NonNegativeFloat = 0.0
    l2: NonNegativeFloat = 0.0
    l1: NonNegativeFloat = 0.0
