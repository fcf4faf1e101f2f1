"""Optimizer weight decay on weights only (`regularizer=weight_decay`): biases and norm
parameters are not decayed, as in d2l's concise implementation."""

from pydantic import NonNegativeFloat

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer


class WeightDecaySettings(Schema):
    weight_decay: NonNegativeFloat = 0.0


class WeightDecayRegularizer(Regularizer):
    Settings = WeightDecaySettings
    switch = "weight_decay"
    order = 50

    def weight_group(self) -> dict:
        return {"weight_decay": self.value}
