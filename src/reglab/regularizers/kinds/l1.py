"""Explicit L1 penalty l1 * sum(|w|) over weights, added to the loss (`regularizer=l1`)."""

from pydantic import NonNegativeFloat

from reglab.regularizers.protocol import Regularizer


class L1Regularizer(
    Regularizer,
    keys={"l1": (NonNegativeFloat, 0.0)},
    order=70,
    per_replica=("l1",),
    packs_zero=True,
):
    def penalty(self, weights: list, replica_dims: int):
        return self.value * sum(w.flatten(replica_dims).abs().sum(-1) for w in weights)
