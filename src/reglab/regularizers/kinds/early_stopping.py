"""Early stopping (`regularizer=early_stopping`): reglab's per-replica EarlyStopping callback
(Lightning's rule; reglab.callbacks.early_stopping), from {monitor, patience, min_delta, mode}
(reglab.regularizers.settings.EarlyStoppingConfig). A single run stops; stacked replicas each
stop on their own, a sweep's packed jobs each with its own patience and min_delta."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import EarlyStoppingConfig

KEYS = {"early_stopping": (EarlyStoppingConfig | None, None)}


class EarlyStoppingRegularizer(Regularizer, keys=KEYS, order=200, per_replica=("early_stopping",)):
    # a pack's jobs may differ in patience and min_delta (each replica its own:
    # EarlyStopping.for_replicas); what is monitored, and how, is the pack's
    @classmethod
    def pack_structure(cls, key: str, value):
        if value is None:
            return None
        return {k: v for k, v in value.items() if k not in ("patience", "min_delta")}

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
