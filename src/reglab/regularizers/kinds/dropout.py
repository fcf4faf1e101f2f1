"""Dropout after (or before) each hidden activation (`regularizer=dropout`, d2l 4.6)."""

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import DropoutImpl, DropoutPlacement, DropoutRates


class DropoutSettings(Schema):
    # One rate per hidden layer, or a single rate for every layer; rates lie in [0, 1).
    dropout: DropoutRates = 0.0
    dropout_impl: DropoutImpl = "auto"
    dropout_placement: DropoutPlacement = "after_activation"


class DropoutRegularizer(Regularizer):
    Settings = DropoutSettings
    switch = "dropout"
    order = 10
    layers = "hidden"

    def _dropout(self, index: int) -> list:
        rate = self.rate(index)
        if rate == 0:
            return []
        from reglab.regularizers.dropout import Dropout

        return [Dropout(rate, self.cfg.dropout_impl)]

    def before_activation(self, index: int) -> list:
        placed = self.cfg.dropout_placement == "before_activation"
        return self._dropout(index) if placed else []

    def after_activation(self, index: int) -> list:
        placed = self.cfg.dropout_placement == "after_activation"
        return self._dropout(index) if placed else []
