"""Gaussian noise on hidden activations in training (`regularizer=noise`, the "noise layer" of
the d2l 4.6 exercise): the std, per hidden layer or one for all. Stacked before dropout after
an activation: the noise, then the mask."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import NoiseStds

KEYS = {"noise": (NoiseStds, 0.0)}


class NoiseRegularizer(
    Regularizer, keys=KEYS, order=40, stack_order=5, layers="hidden", per_replica=("noise",)
):
    def after_activation(self, index: int) -> list:
        from reglab.regularizers.noise import GaussianNoise

        std = self.rate(index)
        return [GaussianNoise(std)] if std > 0 else []
