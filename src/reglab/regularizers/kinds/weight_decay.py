"""Optimizer weight decay on weights only (`regularizer=weight_decay`): biases and norm
parameters are not decayed, as in d2l's concise implementation."""

from pydantic import NonNegativeFloat

from reglab.regularizers.protocol import Regularizer

KEYS = {"weight_decay": (NonNegativeFloat, 0.0)}
# at 0 it does exactly nothing: a job with it off packs with jobs where it is on
PACKING = {"per_replica": ("weight_decay",), "packs_zero": True}


class WeightDecayRegularizer(Regularizer, keys=KEYS, order=50, **PACKING):
    def weight_group(self) -> dict:
        return {"weight_decay": self.value}
