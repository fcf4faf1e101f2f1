"""Does a checkpoint fit the run that continues from it (`ckpt_path=`, `resume=true`)?

Lightning loads the weights only after set-up, and a checkpoint of another model ends in a
state-dict traceback (missing and unexpected keys); one of another optimizer or schedule
fails mid-step or quietly takes the stored hyperparameters. Compared here, before the loggers
start: the weights' names and shapes, the optimizer's class and the lr schedule, with one
line that says what the checkpoint holds against what this run's config builds.
"""

from pathlib import Path

import torch

from reglab.config.errors import CheckpointRefused, ConfigError
from reglab.outputs.checkpoint_io import read_checkpoint

# model keys that change no weight: a checkpoint of model=mlp with name=x fits name=y
NOT_ARCHITECTURE = ("name", "init")
# regularizer keys that live in the optimizer's state (param groups) or the lr scheduler's
TRAINING_KEYS = ("weight_decay", "lr_decay")


def stored_config(checkpoint: dict) -> dict:
    """The run config the checkpoint's RegLabModule saved ({} for another kind of file)."""
    hyperparameters = checkpoint.get("hyper_parameters") or {}
    config = hyperparameters.get("config") or {}
    return config if isinstance(config, dict) else {}


def _describe_model(model: dict, dataset: dict) -> str:
    label = model.get("name") or str(model.get("_target_", "?")).rpartition(".")[2]
    keys = ", ".join(
        f"{k}={v}" for k, v in model.items() if k not in (*NOT_ARCHITECTURE, "_target_")
    )
    data = dataset.get("name") or str(dataset.get("_target_", "?")).rpartition(".")[2]
    return f"model={label}" + (f" ({keys})" if keys else "") + f" on dataset={data}"


def _first_difference(stored: dict, built: dict) -> str:
    for key, value in built.items():
        if key not in stored:
            return f"{key} is not in the checkpoint"
        if tuple(stored[key].shape) != tuple(value.shape):
            return (
                f"{key} is {tuple(stored[key].shape)} in the checkpoint, {tuple(value.shape)} here"
            )
    extra = next(k for k in stored if k not in built)
    return f"the checkpoint's {extra} has no place here"


def check_checkpoint_fits(ckpt: Path, module: torch.nn.Module, settings) -> None:
    """Raises ConfigError when `ckpt` holds weights, an optimizer or an lr schedule this
    run's `module` and `settings` cannot take on."""
    try:  # as data only; a file that is refused was reported by the epoch count before
        checkpoint = read_checkpoint(ckpt, mmap=True)
    except CheckpointRefused:
        return
    if not isinstance(checkpoint.get("state_dict"), dict):
        return
    config = stored_config(checkpoint)
    stored_model, stored_data = config.get("model") or {}, config.get("dataset") or {}
    here = settings.model_dump(by_alias=True)
    theirs = _describe_model(stored_model, stored_data)
    ours = _describe_model(here["model"], here["dataset"])
    stored_state = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
    built = {k: v for k, v in module.state_dict().items() if k.startswith("net.")}
    same_shapes = stored_state.keys() == built.keys() and all(
        tuple(stored_state[k].shape) == tuple(v.shape) for k, v in built.items()
    )
    if not same_shapes:
        raise ConfigError(
            f"ckpt_path={ckpt}: the checkpoint holds {theirs}; this run builds {ours}, and "
            f"the weights do not fit ({_first_difference(stored_state, built)}). Fix: the "
            "checkpoint's model and data set settings (its .hydra/overrides.yaml), or no "
            "ckpt_path to train from scratch"
        )
    changed = _training_differences(checkpoint.get("hyper_parameters") or {}, settings)
    if changed:
        raise ConfigError(
            f"ckpt_path={ckpt}: Lightning restores the checkpoint's optimizer and lr schedule, "
            f"so this run's settings would not apply: {'; '.join(changed[:3])}. Fix: the "
            "checkpoint's settings (its .hydra/overrides.yaml), or no ckpt_path"
        )


def _training_differences(stored: dict, settings) -> list[str]:
    """Each optimizer / weight decay / lr schedule setting that differs from the stored one."""
    stored_regularizer = stored.get("regularizer") or {}
    pairs = [
        ("optimizer", stored.get("optimizer") or {}, settings.optimizer.factory_config()),
        (
            "regularizer",
            {k: stored_regularizer.get(k) for k in TRAINING_KEYS},
            settings.regularizer.model_dump(include=set(TRAINING_KEYS)),
        ),
    ]
    found = []
    for section, theirs, ours in pairs:
        for key in sorted(set(theirs) | set(ours)):
            if theirs.get(key) != ours.get(key):
                found.append(
                    f"{section}.{key}={ours.get(key)} here, {theirs.get(key)} in the checkpoint"
                )
    return found
