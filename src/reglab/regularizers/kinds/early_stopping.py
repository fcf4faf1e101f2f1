"""Early stopping (`regularizer=early_stopping`): Lightning's EarlyStopping callback, from
{monitor, patience, min_delta, mode} (reglab.regularizers.settings.EarlyStoppingConfig)."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import EarlyStoppingConfig

KEYS = {"early_stopping": (EarlyStoppingConfig | None, None)}


class EarlyStoppingRegularizer(Regularizer, keys=KEYS, order=200):
    def callbacks(self) -> list:
        from reglab.regularizers.early_stopping import early_stopping_callback

        return [early_stopping_callback(self.value)]
