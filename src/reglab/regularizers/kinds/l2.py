"""Explicit L2 penalty l2/2 * sum(w^2) over weights, added to the loss (`regularizer=l2`,
d2l 4.5 from scratch)."""

from pydantic import NonNegativeFloat

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer


class L2Settings(Schema):
    l2: NonNegativeFloat = 0.0


class L2Regularizer(Regularizer):
    Settings = L2Settings
    switch = "l2"
    order = 60

    def penalty(self, weights: list, replica_dims: int):
        # sum(w^2) / 2: d2l 4.5's `l2_penalty`
        squares = sum(w.flatten(replica_dims).pow(2).sum(-1) for w in weights)
        return self.value * (squares / 2)
