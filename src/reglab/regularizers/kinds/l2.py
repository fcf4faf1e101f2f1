"""Explicit L2 penalty l2/2 * sum(w^2) over weights, added to the loss (`regularizer=l2`,
d2l 4.5 from scratch: its `l2_penalty` is sum(w^2) / 2)."""

from pydantic import NonNegativeFloat

from reglab.regularizers.protocol import Regularizer

KEYS = {"l2": (NonNegativeFloat, 0.0)}
# at 0 it does exactly nothing: a job with it off packs with jobs where it is on
PACKING = {"per_replica": ("l2",), "packs_zero": True}


class L2Regularizer(Regularizer, keys=KEYS, order=60, **PACKING):
    def penalty(self, weights: list, replica_dims: int):
        squares = sum(w.flatten(replica_dims).pow(2).sum(-1) for w in weights)
        return self.value * (squares / 2)
