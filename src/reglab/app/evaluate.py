"""`python eval.py ckpt_path=PATH` (reglab-eval): a checkpoint evaluated on the test split
(`split=val`: the validation split), in a run folder of its own.

The checkpoint carries its run's validated config (RegLabModule's hyperparameters): the model
is rebuilt from it without Hydra, and the data set and protocol are the run's, looked up in
this machine's `paths` (a checkpoint trained elsewhere finds its data here). metrics.json
holds the split's metrics under the keys training writes (test/acc, test/loss, ...), and for
classification the per-class accuracy (test/class_acc/<class>, per_class_accuracy.csv). The
training run's folder is only read.
"""

import logging
import sys
from pathlib import Path
from typing import Literal

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue
from pydantic import ValidationError

from reglab import contract
from reglab.app.outputs_config import LoggersConfig
from reglab.app.settings import ExtrasConfig, HardwareConfig, PathsConfig, RunConfig, to_plain_dict
from reglab.config.base import Schema
from reglab.config.errors import CheckpointRefused, ConfigError, format_validation_error
from reglab.data.errors import DatasetError
from reglab.extras.command import program
from reglab.run_folder import RunFolder, rebase_paths

log = logging.getLogger("reglab")


class EvalConfig(Schema):
    task_name: str
    tags: list[str]
    ckpt_path: str
    split: Literal["test", "val"]
    hardware: HardwareConfig
    paths: PathsConfig
    extras: ExtrasConfig
    # logger=wandb / tensorboard / mlflow / csv, as training: the evaluation's own runs
    logger: LoggersConfig | None


def validate_eval_config(cfg: DictConfig | dict) -> EvalConfig:
    try:
        raw = cfg if isinstance(cfg, dict) else to_plain_dict(cfg)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or "ckpt_path"
        raise ConfigError(
            f"{key} is required: {program('eval')} {key}={RunFolder('/path/to/run').best_ckpt}"
        ) from None
    try:
        return EvalConfig.model_validate(raw)
    except ValidationError as exc:
        fields = {"": list(EvalConfig.model_fields)}
        raise ConfigError(format_validation_error(exc, fields)) from None


# What eval takes from a checkpoint's stored config: what the model and its data are (and the
# run's tags and extras, which eval's building reads nothing of). The rest (trainer, callbacks,
# loggers, hardware, paths) is this machine's: a stored config is data, and a file from
# elsewhere chooses neither what runs nor where anything is written.
TRAINED_SECTIONS = (
    *("task_name", "seed", "dataset", "model", "regularizer", "optimizer", "protocol"),
    *("tags", "extras"),
)
# what an evaluation is as a run: one pass over a split, with the weights it was given
EVALUATION = dict(
    seeds=1,
    test=True,
    test_ckpt=contract.LAST,
    optimized_metric=None,
    resume=False,
    ckpt_path=None,
)
PER_CLASS = "reglab.callbacks.per_class.PerClassAccuracy"


def trained_settings(
    config: dict,
    here: PathsConfig,
    hardware: HardwareConfig,
    given: dict | None = None,
) -> RunConfig:
    """The settings eval builds its data and trainer from (with training's builders): the
    training run's model and data settings, with its data paths moved to this machine's (a
    checkpoint trained elsewhere finds its data here), on this machine's hardware (one
    device). `given`: sections eval sets itself: the loaded module's model, regularizer and
    optimizer (validated already, taken as they are) and the evaluation's callbacks."""
    if not isinstance(config, dict):
        raise ConfigError("the checkpoint carries no run config (hyper_parameters.config)")
    trained = config.get("paths") if isinstance(config.get("paths"), dict) else {}
    moves = {
        str(trained[key]): str(getattr(here, key))
        for key in ("data_dir", "cache_dir")
        if isinstance(trained.get(key), str) and Path(trained[key]).is_absolute()
    }
    kept = {key: rebase_paths(config[key], moves) for key in TRAINED_SECTIONS if key in config}
    dataset = kept.get("dataset")
    if isinstance(dataset, dict):  # where data are read from and cached: this machine's
        for key in ("data_dir", "cache_dir"):
            if key in dataset:
                dataset[key] = str(getattr(here, key))
    trainer = {
        "_target_": "lightning.Trainer",
        "max_epochs": 1,
        "accelerator": hardware.accelerator,
        "devices": 1,
        "precision": hardware.precision,
        "enable_model_summary": False,
        "default_root_dir": here.output_dir,
    }
    this_machine = {
        "paths": here,
        "hardware": hardware.model_copy(update={"devices": 1, "strategy": "auto"}),
        "trainer": trainer,
        "callbacks": None,
        "logger": None,
    }
    return RunConfig.model_validate(kept | EVALUATION | this_machine | (given or {}))


def evaluate(settings: EvalConfig) -> dict:
    """Evaluates the checkpoint; returns what metrics.json holds."""
    import lightning as L

    from reglab.app.build import build_data, build_trainer
    from reglab.app.eval_logging import build_eval_loggers, training_run
    from reglab.app.train import prepare_machine
    from reglab.extras.provenance import provenance
    from reglab.lit import RegLabModule
    from reglab.loggers import finish_wandb, log_final_metrics
    from reglab.outputs.results import print_summary
    from reglab.replicas.state import check_not_run_state

    prepare_machine(settings, processes=1)  # as a run's (one process evaluates)
    ckpt = Path(settings.ckpt_path).expanduser().resolve()
    if ckpt.is_dir():
        raise ConfigError(f"ckpt_path={settings.ckpt_path} is a folder; give a .ckpt file in it")
    if not ckpt.is_file():
        raise ConfigError(f"ckpt_path={settings.ckpt_path}: no such file")
    check_not_run_state(ckpt)  # a seeds=N run's state: one line naming a replica's file
    module = _load_module(RegLabModule, ckpt)
    check_finite_weights(module, ckpt)
    output_dir = Path(settings.paths.output_dir)
    per_class = settings.split == "test" and module.task.name == "classification"
    callbacks = {"per_class_accuracy": {"_target_": PER_CLASS, "output_dir": str(output_dir)}}
    given = {key: getattr(module.settings, key) for key in ("model", "regularizer", "optimizer")}
    given["callbacks"] = callbacks if per_class else None
    try:  # the stored config is the file's: what it names is checked before it is built
        run = trained_settings(module.hparams["config"], settings.paths, settings.hardware, given)
        L.seed_everything(run.seed, workers=True, verbose=False)
        data = build_data(run)
    except (ConfigError, ValidationError) as exc:
        detail = str(exc) if isinstance(exc, ConfigError) else format_validation_error(exc, {})
        raise CheckpointRefused(ckpt, f"its stored config: {' '.join(detail.split())}") from None
    if settings.split == "val" and module.task.epoch_stage == "test":
        raise ConfigError(
            f"split=val: {ckpt} was trained under protocol={run.protocol.name}, which has no "
            "validation split (the test set was its per-epoch evaluation); use split=test"
        )
    RunFolder(output_dir).check_writer([], evaluating=True)  # paths.output_dir=<a run> too
    output_dir.mkdir(parents=True, exist_ok=True)
    logged_config = settings.model_dump(by_alias=True) | {"trained": module.hparams["config"]}
    loggers = build_eval_loggers(
        settings.logger, training_run(ckpt), logged_config, output_dir, list(settings.tags)
    )
    trainer = build_trainer(run, data, [], loggers)
    evaluate_split = trainer.test if settings.split == "test" else trainer.validate
    try:
        evaluate_split(module, datamodule=data.datamodule, verbose=False)
    except RuntimeError as exc:  # the stored model and data set do not fit (shapes, dtypes)
        if not any(w in str(exc) for w in ("shape", "size", "dimension", "dtype")):
            raise
        detail = str(exc).strip().splitlines()[0][:200]
        raise CheckpointRefused(
            ckpt, f"its model and its data set do not fit each other here ({detail})"
        ) from None
    prefix = f"{settings.split}/"
    metrics = {
        key: float(value)
        for key, value in sorted(trainer.callback_metrics.items())
        if key.startswith(prefix) and not key.endswith(contract.BEST_SUFFIX)
    }
    trained = RunFolder(ckpt.parent.parent)  # the run the checkpoint belongs to, if any
    record = {
        "status": contract.COMPLETED,
        "checkpoint": str(ckpt),
        "split": settings.split,
        **metrics,
        "trained": {"overrides": trained.saved_overrides(), "config": module.hparams["config"]},
        "tags": list(settings.tags),
        "provenance": provenance(),
    }
    RunFolder(output_dir).write_record(record)
    log_final_metrics(loggers, logged_config, record)  # MLflow, TensorBoard hparams
    finish_wandb()
    print_summary(record)
    log.info("Results in %s", output_dir)
    return record


def _load_module(module_class, ckpt: Path):
    """The checkpoint's RegLabModule; a file that is not one, holds code, or a model this
    machine cannot rebuild (a user's package not importable here), is one line naming the
    file (CheckpointRefused)."""
    from reglab.outputs.checkpoint_io import refusal

    try:
        return module_class.load_from_checkpoint(ckpt, map_location="cpu")
    except CheckpointRefused:
        raise
    except Exception as exc:  # Lightning on a file that is a torch file but no checkpoint
        raise refusal(ckpt, exc) from None


def check_finite_weights(module, ckpt: Path) -> None:
    """Weights that are NaN or infinite (a diverged run's) have no accuracy to report: an
    evaluation of them would print a number (0.1000 for 10 classes) as if it meant one."""
    import torch

    bad = [
        f"net.{name}"
        # the network only: metric states start at -inf (the best so far of none)
        for name, tensor in module.net.state_dict().items()
        if torch.is_tensor(tensor) and tensor.is_floating_point() and not tensor.isfinite().all()
    ]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise ConfigError(
            f"ckpt_path={ckpt}: its weights are not finite (NaN or inf in {shown}): the run "
            "diverged before this checkpoint was written, there is nothing to evaluate; "
            "evaluate a checkpoint of an epoch before the divergence"
        )


def handle_eval(cfg: DictConfig) -> None:
    """Runs the evaluation; a user error ends it with one message, not a traceback."""
    from reglab.app.run_folder import remove_unstarted_run

    own_dir = Path(cfg.paths.output_dir)
    try:
        evaluate(validate_eval_config(cfg))
    except (ConfigError, DatasetError) as exc:
        log.error("%s", exc)
        remove_unstarted_run(own_dir)
        sys.exit(1)
