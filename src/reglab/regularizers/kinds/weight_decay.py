"""Optimizer weight decay on weights only (`regularizer=weight_decay`): biases and norm
parameters are not decayed, as in d2l's concise implementation."""

from pydantic import NonNegativeFloat

from reglab.regularizers.protocol import Regularizer


class WeightDecayRegularizer(
    Regularizer,
    keys={"weight_decay": (NonNegativeFloat, 0.0)},
    order=50,
    per_replica=("weight_decay",),
    packs_zero=True,
):
    def weight_group(self) -> dict:
        return {"weight_decay": self.value}
