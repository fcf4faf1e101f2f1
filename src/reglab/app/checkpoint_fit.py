"""Does a checkpoint fit the run that continues from it (`ckpt_path=`, `resume=true`)?

Lightning loads the weights only after set-up, and a checkpoint of another model ends in a
state-dict traceback (missing and unexpected keys); one of another optimizer or schedule
fails mid-step, or quietly trains on with the stored lr and weight decay (Lightning restores
the optimizer state, param groups included). Compared here, before the loggers start: the
weights' names and shapes, the optimizer state against the optimizer this run builds, and the
lr schedule, with one line that says what the checkpoint holds against what this run sets.
"""

import math
from pathlib import Path

import torch

from reglab.config.errors import CheckpointRefused, ConfigError
from reglab.outputs.checkpoint_io import read_checkpoint

# model keys that change no weight: a checkpoint of model=mlp with name=x fits name=y
NOT_ARCHITECTURE = ("name", "init")
# param-group keys that are no training hyperparameter (implementation choices, bookkeeping,
# keys one torch version has and another lacks)
NOT_HYPERPARAMETERS = {
    "params",
    "initial_lr",
    "foreach",
    "fused",
    "differentiable",
    "capturable",
    "decoupled_weight_decay",
}


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
    here = module.hparams["config"]  # this run's settings, as the module stores them
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
    changed = _optimizer_differences(checkpoint, module, settings)
    stored_schedule = bool(checkpoint.get("lr_schedulers"))
    if stored_schedule != (settings.regularizer.lr_decay is not None):
        changed.append(
            "regularizer.lr_decay is set here, the checkpoint has no lr schedule"
            if not stored_schedule
            else "the checkpoint has an lr schedule, regularizer.lr_decay is not set here"
        )
    if changed:
        raise ConfigError(
            f"ckpt_path={ckpt}: Lightning restores the checkpoint's optimizer and lr schedule, "
            f"so this run's settings would not apply: {'; '.join(changed[:3])}. Fix: the "
            "checkpoint's settings (its .hydra/overrides.yaml), or no ckpt_path"
        )


def _optimizer_differences(checkpoint: dict, module: torch.nn.Module, settings) -> list[str]:
    """What the optimizer state Lightning would restore sets differently from this run's
    optimizer: its class (the state's keys), or a hyperparameter of a parameter group (lr as
    configured: a schedule's starting lr, not the decayed one)."""
    states = checkpoint.get("optimizer_states") or []
    if not states or not isinstance(states[0], dict):
        return []
    stored = states[0].get("param_groups") or []
    ours = module.optimizer_factory(module.regularization.parameter_groups(module.net))
    groups = ours.param_groups
    target = settings.optimizer.target
    if len(stored) != len(groups):
        return [f"{len(stored)} parameter groups in the checkpoint's optimizer, {len(groups)} here"]
    found: list[str] = []
    for theirs, mine in zip(stored, groups, strict=True):
        only_theirs = set(theirs) - set(mine) - NOT_HYPERPARAMETERS
        only_mine = set(mine) - set(theirs) - NOT_HYPERPARAMETERS
        if only_theirs:
            return [
                f"the checkpoint's optimizer state has {', '.join(sorted(only_theirs))}, which "
                f"optimizer._target_={target} here does not: it is another optimizer's"
            ]
        if only_mine:
            return [
                f"optimizer._target_={target} here keeps {', '.join(sorted(only_mine))}, which "
                "the checkpoint's optimizer state lacks: it is another optimizer's"
            ]
        for key in sorted(set(mine) & set(theirs) - NOT_HYPERPARAMETERS):
            value = theirs.get("initial_lr", theirs[key]) if key == "lr" else theirs[key]
            if not _same(value, mine[key]):
                name = "regularizer.weight_decay" if key == "weight_decay" else f"optimizer.{key}"
                line = f"{name}={_plain(mine[key])} here, {_plain(value)} in the checkpoint"
                if line not in found:
                    found.append(line)
    return found


def _plain(value):
    return value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value


def _same(a, b) -> bool:
    a, b = _plain(a), _plain(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
