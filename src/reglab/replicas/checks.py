"""What cannot be stacked yet: the key and why, before anything is trained. Such seeds train
one after another, each as its single run (reglab.app.seeds_in_turn).

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
    # counted and clipped by the replicas' module itself (reglab.replicas.module)
    "limit_train_batches",
    "limit_val_batches",
    "limit_test_batches",
    "gradient_clip_val",
    "gradient_clip_algorithm",
}
# Callbacks whose job the replicas' run does per replica: checkpoints (each replica's folder:
# reglab.callbacks.replica_checkpoints), metrics rows (the same EpochMetricsWriter, given every
# replica's folder), the progress bar (the run logs its progress). Other callbacks go to
# the replicas' Trainer (the divergence guard and early stopping act per replica:
# reglab.callbacks.per_replica), but for reglab's instruments not yet written against
# reglab.callbacks.networks (grad_norm and histograms send step-level series to live loggers;
# a replica has none).
CALLBACKS_DONE_PER_REPLICA = {
    "model_checkpoint",
    "last_checkpoint",
    "on_exception_checkpoint",
    "epoch_metrics",
    "progress_bar",
}

# reglab's instruments that measure every replica (reglab.callbacks.networks): each replica's
# values land where its single run's do
INSTRUMENTS_PER_REPLICA = {
    "reglab.callbacks.grad_norm_epoch.EpochGradNorm",
    "reglab.callbacks.test_curve.TestCurve",
    "reglab.callbacks.norms.WeightNorms",
    "reglab.callbacks.activations.ActivationStats",
    "reglab.callbacks.per_class.PerClassAccuracy",
}


# reglab's callbacks written against reglab.callbacks.per_replica: they act on each replica
CALLBACKS_PER_REPLICA = {
    "reglab.callbacks.divergence.DivergenceGuard",
    "reglab.callbacks.early_stopping.EarlyStopping",
    "reglab.callbacks.artifacts.RunArtifacts",
}


def _single_network_instrument(entry) -> bool:
    """One of reglab's own callbacks (instruments) that reads one network only."""
    per_replica = INSTRUMENTS_PER_REPLICA | CALLBACKS_PER_REPLICA
    return entry.target.startswith("reglab.") and entry.target not in per_replica


class NotStackable(ConfigError):
    """These replicas cannot be stacked (found once the model is built): the seeds train one
    after another instead. The message names the key and why."""


def _why(key: str, why: str = "") -> str:
    return f"{key} ({why})" if why else key


# what ReplicaCheckpoints keeps per replica: one best (or the last) by epoch; Lightning's other
# ModelCheckpoint triggers and top-k files have no per-replica counterpart
CHECKPOINT_OPTIONS_ALLOWED = {
    "save_top_k": (1,),
    "every_n_train_steps": (None, 0),
    "train_time_interval": (None,),
    "save_last": (None, False),
}


def _checkpoint_refusal(entries: dict) -> str | None:
    for name in ("model_checkpoint", "last_checkpoint"):
        entry = entries.get(name)
        options = entry.arguments() if entry is not None else {}
        for key, allowed in CHECKPOINT_OPTIONS_ALLOWED.items():
            if (value := options.get(key, allowed[0])) not in allowed:
                why = "a stack keeps one best and one last checkpoint per replica, by epoch"
                return _why(f"callbacks.{name}.{key}={value}", why)
    return None


def stacking_refusal(settings) -> str | None:
    """Why these settings' replicas cannot be stacked (the key and why), or None: the
    settings-level checks (no model or data needed), right after validation."""
    hw = settings.hardware
    if hw.strategy != "auto" or hw.devices not in (1, "auto"):
        return _why(f"hardware.strategy={hw.strategy}", "DDP / several devices")
    for regularizer in REGULARIZERS:  # what a regularizer declares it cannot do per replica
        if regularizer.replica_refusal and regularizer.is_on(settings.regularizer):
            return _why(f"regularizer.{regularizer.switch}", regularizer.replica_refusal)
    if settings.optimizer.target not in ELEMENTWISE_OPTIMIZERS:
        return _why(
            f"optimizer._target_={settings.optimizer.target}",
            "only elementwise optimizers step stacked replicas independently",
        )
    for key, value in (settings.trainer.model_extra or {}).items():
        if key not in TRAINER_KEYS_READ and value is not None:
            return _why(f"trainer.{key}", "not implemented for stacked replicas")
    entries = settings.callbacks.entries() if settings.callbacks is not None else {}
    if (reason := _checkpoint_refusal(entries)) is not None:
        return reason
    for name, entry in entries.items():
        if (
            entry is not None
            and name not in CALLBACKS_DONE_PER_REPLICA
            and _single_network_instrument(entry)
        ):
            return _why(f"callbacks.{name}", "an instrument reads one network")
    return None
