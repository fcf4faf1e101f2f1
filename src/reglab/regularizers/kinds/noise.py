"""Gaussian noise on hidden activations in training (`regularizer=noise`, d2l 4.6 exercise)."""

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import NoiseStds


class NoiseSettings(Schema):
    # std of Gaussian noise added to each hidden activation in training, per layer or one
    noise: NoiseStds = 0.0


class NoiseRegularizer(Regularizer):
    Settings = NoiseSettings
    switch = "noise"
    order = 40
    stack_order = 5  # before dropout after an activation: the noise layer, then the mask
    layers = "hidden"

    def after_activation(self, index: int) -> list:
        std = self.rate(index)
        if std == 0:
            return []
        from reglab.regularizers.noise import GaussianNoise

        return [GaussianNoise(std)]
