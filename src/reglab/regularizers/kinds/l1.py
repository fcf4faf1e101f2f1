"""Explicit L1 penalty l1 * sum(|w|) over weights, added to the loss (`regularizer=l1`)."""

from pydantic import NonNegativeFloat

from reglab.regularizers.protocol import Regularizer

KEYS = {"l1": (NonNegativeFloat, 0.0)}
# at 0 it does exactly nothing: a job with it off packs with jobs where it is on
PACKING = {"per_replica": ("l1",), "packs_zero": True}


class L1Regularizer(Regularizer, keys=KEYS, order=70, **PACKING):
    def penalty(self, weights: list, replica_dims: int):
        return self.value * sum(w.flatten(replica_dims).abs().sum(-1) for w in weights)
