"""What cannot be per replica yet: a ConfigError naming the key, before anything is trained.

Torch-free (train.py checks the settings before anything is imported or loaded).
"""

from reglab.config.errors import ConfigError
from reglab.regularizers.kinds import REGULARIZERS

# Optimizers whose update of an element reads only that element's gradient and state: one
# step over stacked tensors is then exactly N single-run steps. (LBFGS, for one, is not.)
ELEMENTWISE_OPTIMIZERS = {
    f"torch.optim.{name}"
    for name in (
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "Adamax",
        "NAdam",
        "RAdam",
        "Rprop",
        "ASGD",
    )
}
# Trainer keys the replicas' module reads, that Lightning's Trainer implements for it, or that
# do not change training; any other key set to a value of its own is refused rather than
# silently ignored.
TRAINER_KEYS_READ = {
    "profiler",
    "max_time",
    "benchmark",
    "detect_anomaly",
    "inference_mode",
    "_target_",
    "max_epochs",
    "check_val_every_n_epoch",
    "default_root_dir",
    "accelerator",
    "devices",
    "precision",
    "strategy",
    "deterministic",
    "log_every_n_steps",
    "num_sanity_val_steps",
    "enable_model_summary",
}
TRAINER_LIMITS = ("limit_train_batches", "limit_val_batches", "limit_test_batches")
# Callbacks whose job the replicas' module does per replica (reglab.replicas.module, and the
# replica folders: reglab.app.replicas). Other callbacks go to the replicas' Trainer, but for
# reglab's instruments, which read one network (`pl_module.net`) and write one run's files.
CALLBACKS_DONE_PER_REPLICA = {
    "model_checkpoint",
    "last_checkpoint",
    "on_exception_checkpoint",
    "epoch_metrics",
    "progress_bar",
    "artifacts",
    "divergence_guard",
}


def _instrument(entry) -> bool:
    """reglab's own callbacks (instruments: norms, activations, per-class accuracy, ...)."""
    return entry.target.startswith("reglab.")


def _unsupported(key: str, why: str = "") -> ConfigError:
    reason = f" ({why})" if why else ""
    return ConfigError(
        f"{key} is not supported with seeds>1 yet{reason}: use seeds=1, or a multirun over "
        "seed= (e.g. -m seed=range(5))"
    )


def check_settings(settings) -> None:
    """The settings-level checks (no model or data needed): call right after validation."""
    hw = settings.hardware
    if hw.strategy != "auto" or hw.devices not in (1, "auto"):
        raise _unsupported(f"hardware.strategy={hw.strategy}", "DDP / several devices")
    for regularizer in REGULARIZERS:  # what a regularizer declares it cannot do per replica
        if regularizer.replica_refusal and regularizer.is_on(settings.regularizer):
            raise _unsupported(f"regularizer.{regularizer.switch}", regularizer.replica_refusal)
    if settings.optimizer.target not in ELEMENTWISE_OPTIMIZERS:
        raise _unsupported(
            f"optimizer._target_={settings.optimizer.target}",
            "only elementwise optimizers step stacked replicas independently",
        )
    for key, value in (settings.trainer.model_extra or {}).items():
        if key in TRAINER_LIMITS and value not in (None, 1.0):
            raise _unsupported(f"trainer.{key}")
        if key not in TRAINER_KEYS_READ and key not in TRAINER_LIMITS and value is not None:
            raise _unsupported(f"trainer.{key}")
    entries = settings.callbacks.entries() if settings.callbacks is not None else {}
    for name, entry in entries.items():
        if entry is not None and name not in CALLBACKS_DONE_PER_REPLICA and _instrument(entry):
            raise _unsupported(f"callbacks.{name}", "an instrument reads one network")
