"""Dropout after (or before) each hidden activation (`regularizer=dropout`, d2l 4.6).

dropout: one rate per hidden layer, or one rate for every layer, each in [0, 1);
dropout_impl: torch | scratch (d2l's mask, faster on CPU) | auto (scratch on CPU);
dropout_placement: after_activation (d2l 4.6) | before_activation (drop pre-activations).
"""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import DropoutImpl, DropoutPlacement, DropoutRates

KEYS = {
    "dropout": (DropoutRates, 0.0),
    "dropout_impl": (DropoutImpl, "auto"),
    "dropout_placement": (DropoutPlacement, "after_activation"),
}


class DropoutRegularizer(
    Regularizer, keys=KEYS, order=10, layers="hidden", per_replica=("dropout",)
):
    def _dropout(self, index: int, placement: str) -> list:
        rate = self.rate(index)
        if rate == 0 or self.cfg.dropout_placement != placement:
            return []
        from reglab.regularizers.dropout import Dropout

        return [Dropout(rate, self.cfg.dropout_impl)]

    def before_activation(self, index: int) -> list:
        return self._dropout(index, "before_activation")

    def after_activation(self, index: int) -> list:
        return self._dropout(index, "after_activation")
