"""Early stopping (`regularizer=early_stopping`): Lightning's EarlyStopping, configured here.

The run stops when `monitor` has not improved by more than `min_delta` for `patience`
validations; the test then uses the best checkpoint, and metrics.json records when and why.
"""

from lightning.pytorch.callbacks import EarlyStopping

from reglab.regularizers.settings import EarlyStoppingConfig


def early_stopping_callback(cfg: EarlyStoppingConfig) -> EarlyStopping:
    return EarlyStopping(
        monitor=cfg.monitor,
        patience=cfg.patience,
        min_delta=cfg.min_delta,
        mode=cfg.resolved_mode,
        check_on_train_epoch_end=False,  # decide after validation, where the metric is fresh
    )


def early_stopping_record(callback: EarlyStopping) -> dict:
    """What metrics.json says about it: whether, at which epoch, and why the run stopped."""
    stopped = callback.stopped_epoch > 0
    return {
        "stopped": stopped,
        "stopped_epoch": callback.stopped_epoch + 1 if stopped else None,
        "reason": callback.stopping_reason_message if stopped else "did not stop early",
        "best": float(callback.best_score),
    }
