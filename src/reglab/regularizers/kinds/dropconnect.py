"""DropConnect (`regularizer=dropconnect`, the d2l 4.6 exercise): a 0/1 mask over each hidden
layer's weight matrix per training step; one rate per hidden layer, or one for all."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import DropoutRates


class DropConnectRegularizer(
    Regularizer,
    keys={"dropconnect": (DropoutRates, 0.0)},
    order=20,
    layers="hidden",
    per_replica=("dropconnect",),
):
    def linear(self, index: int, in_features: int, out_features: int, bias: bool):
        from reglab.regularizers.dropconnect import DropConnectLinear

        rate = self.rate(index)
        return DropConnectLinear(in_features, out_features, rate, bias=bias) if rate else None
