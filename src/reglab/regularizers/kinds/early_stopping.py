"""Early stopping (`regularizer=early_stopping`): reglab's per-replica EarlyStopping callback
(Lightning's rule; reglab.callbacks.early_stopping), from {monitor, patience, min_delta, mode}
(reglab.regularizers.settings.EarlyStoppingConfig). A single run stops; stacked replicas each
stop on their own."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import EarlyStoppingConfig

KEYS = {"early_stopping": (EarlyStoppingConfig | None, None)}


class EarlyStoppingRegularizer(Regularizer, keys=KEYS, order=200):
    def callbacks(self) -> list:
        from reglab.callbacks.early_stopping import EarlyStopping

        cfg = self.value
        return [
            EarlyStopping(
                monitor=cfg.monitor,
                patience=cfg.patience,
                min_delta=cfg.min_delta,
                mode=cfg.resolved_mode,
            )
        ]
