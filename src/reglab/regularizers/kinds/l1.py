"""Explicit L1 penalty l1 * sum(|w|) over weights, added to the loss (`regularizer=l1`)."""

from pydantic import NonNegativeFloat

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer


class L1Settings(Schema):
    l1: NonNegativeFloat = 0.0


class L1Regularizer(Regularizer):
    Settings = L1Settings
    switch = "l1"
    order = 70

    def penalty(self, weights: list, replica_dims: int):
        return self.value * sum(w.flatten(replica_dims).abs().sum(-1) for w in weights)
