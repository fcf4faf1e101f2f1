"""DropConnect: a 0/1 mask over each hidden weight matrix per step (`regularizer=dropconnect`)."""

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import DropoutRates


class DropConnectSettings(Schema):
    # DropConnect: a 0/1 mask over each hidden layer's weight matrix per training step
    dropconnect: DropoutRates = 0.0


class DropConnectRegularizer(Regularizer):
    Settings = DropConnectSettings
    switch = "dropconnect"
    order = 20
    layers = "hidden"

    def linear(self, index: int, in_features: int, out_features: int, bias: bool):
        rate = self.rate(index)
        if rate == 0:
            return None
        from reglab.regularizers.dropconnect import DropConnectLinear

        return DropConnectLinear(in_features, out_features, rate, bias=bias)
