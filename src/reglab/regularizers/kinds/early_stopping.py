"""Early stopping (`regularizer=early_stopping`): Lightning's EarlyStopping callback."""

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import EarlyStoppingConfig


class EarlyStoppingSettings(Schema):
    early_stopping: EarlyStoppingConfig | None = None  # {monitor, patience, min_delta, mode}


class EarlyStoppingRegularizer(Regularizer):
    Settings = EarlyStoppingSettings
    switch = "early_stopping"
    order = 200

    def callbacks(self) -> list:
        from reglab.regularizers.early_stopping import early_stopping_callback

        return [early_stopping_callback(self.value)]
