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
from pydantic import Field, ValidationError

from reglab import contract
from reglab.app.settings import ExtrasConfig, HardwareConfig, PathsConfig, RunConfig, to_plain_dict
from reglab.config.base import Schema
from reglab.config.errors import ConfigError, format_validation_error
from reglab.data.errors import DatasetError
from reglab.extras.command import program

log = logging.getLogger("reglab")


class EvalConfig(Schema):
    task_name: str
    tags: list[str] = Field(default_factory=list)
    ckpt_path: str
    split: Literal["test", "val"] = "test"
    hardware: HardwareConfig
    paths: PathsConfig
    extras: ExtrasConfig = ExtrasConfig()
    # logger=wandb / tensorboard / mlflow / csv, as training: the evaluation's own runs
    logger: dict[str, dict | None] | None = None


def validate_eval_config(cfg: DictConfig | dict) -> EvalConfig:
    try:
        raw = cfg if isinstance(cfg, dict) else to_plain_dict(cfg)
    except MissingMandatoryValue as exc:
        key = getattr(exc, "full_key", None) or "ckpt_path"
        raise ConfigError(
            f"{key} is required: {program('eval')} {key}=/path/to/run/checkpoints/best.ckpt"
        ) from None
    try:
        return EvalConfig.model_validate(raw)
    except ValidationError as exc:
        fields = {"": list(EvalConfig.model_fields)}
        raise ConfigError(format_validation_error(exc, fields)) from None


def trained_settings(config: dict, here: PathsConfig) -> RunConfig:
    """The training run's settings, with its data paths moved to this machine's."""
    trained = config["paths"]
    moves = {
        trained["data_dir"]: here.data_dir,
        trained["cache_dir"]: here.cache_dir,
        trained["output_dir"]: here.output_dir,
    }

    def move(value):
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, str):
            for old, new in moves.items():
                if value == old or value.startswith(old + "/"):
                    return new + value[len(old) :]
        return value

    return RunConfig.model_validate(move(config) | {"paths": here.model_dump()})


def evaluate(settings: EvalConfig) -> dict:
    """Evaluates the checkpoint; returns what metrics.json holds."""
    import lightning as L

    from reglab.app.checks import check_hardware
    from reglab.app.eval_logging import build_eval_loggers, training_run
    from reglab.callbacks.per_class import PerClassAccuracy
    from reglab.data.build import build_datamodule
    from reglab.data.protocol import apply_protocol
    from reglab.extras.provenance import provenance
    from reglab.extras.warnings import silence_known_warnings
    from reglab.lit import RegLabModule
    from reglab.loggers import finish_wandb, log_final_metrics
    from reglab.outputs.results import print_summary, write_metrics_json
    from reglab.threads import configure_threads

    check_hardware(settings.hardware)
    configure_threads(settings.hardware.threads)
    if settings.extras.ignore_warnings:
        silence_known_warnings()
    ckpt = Path(settings.ckpt_path).expanduser().resolve()
    if ckpt.is_dir():
        raise ConfigError(f"ckpt_path={settings.ckpt_path} is a folder; give a .ckpt file in it")
    if not ckpt.is_file():
        raise ConfigError(f"ckpt_path={settings.ckpt_path}: no such file")
    module = _load_module(RegLabModule, ckpt)
    run = trained_settings(module.hparams["config"], settings.paths)
    if settings.split == "val" and module.task.epoch_stage == "test":
        raise ConfigError(
            f"split=val: {ckpt} was trained under protocol={run.protocol.name}, which has no "
            "validation split (the test set was its per-epoch evaluation); use split=test"
        )
    output_dir = Path(settings.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(run.seed, workers=True, verbose=False)
    datamodule = build_datamodule(run.dataset, seed=run.seed)
    if hasattr(datamodule, "split_transform"):
        apply_protocol(datamodule, run.protocol)
    callbacks = []
    if settings.split == "test" and module.task.name == "classification":
        callbacks.append(PerClassAccuracy(output_dir))
    logged_config = settings.model_dump(by_alias=True) | {"trained": module.hparams["config"]}
    loggers = build_eval_loggers(
        settings.logger, training_run(ckpt), logged_config, output_dir, list(settings.tags)
    )
    trainer = L.Trainer(
        accelerator=settings.hardware.accelerator,
        devices=1,
        precision=settings.hardware.precision,
        logger=loggers or False,
        callbacks=callbacks,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=output_dir,
    )
    if settings.split == "test":
        trainer.test(module, datamodule=datamodule, verbose=False)
    else:
        trainer.validate(module, datamodule=datamodule, verbose=False)
    prefix = f"{settings.split}/"
    metrics = {
        key: float(value)
        for key, value in sorted(trainer.callback_metrics.items())
        if key.startswith(prefix) and not key.endswith(contract.BEST_SUFFIX)
    }
    record = {
        "status": contract.COMPLETED,
        "checkpoint": str(ckpt),
        "split": settings.split,
        **metrics,
        "trained": {"overrides": _trained_overrides(ckpt), "config": module.hparams["config"]},
        "tags": list(settings.tags),
        "provenance": provenance(),
    }
    write_metrics_json(contract.metrics_json(output_dir), record)
    log_final_metrics(loggers, logged_config, record)  # MLflow, TensorBoard hparams
    finish_wandb()
    print_summary(record)
    log.info("Results in %s", output_dir)
    return record


def _load_module(module_class, ckpt: Path):
    """The checkpoint's RegLabModule; a file that is not one, or a model this machine cannot
    rebuild (a user's package not importable here), is one line naming the file."""
    try:
        return module_class.load_from_checkpoint(ckpt, map_location="cpu")
    except ConfigError as exc:
        raise ConfigError(f"ckpt_path={ckpt}: its model cannot be rebuilt here: {exc}") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")
        raise ConfigError(f"ckpt_path={ckpt}: its model cannot be rebuilt here: {first}") from None
    except Exception as exc:  # torch.load or Lightning on a file that is not a checkpoint
        detail = str(exc).splitlines()[0] if str(exc).strip() else "an empty or cut-off file"
        raise ConfigError(
            f"ckpt_path={ckpt}: not a checkpoint of a reglab run (one written by train.py, "
            f"carrying its config): {type(exc).__name__}, {detail}"
        ) from None


def _trained_overrides(ckpt: Path) -> list[str] | None:
    """The command-line overrides of the run the checkpoint belongs to, if it is in one."""
    import yaml

    path = contract.overrides_file(ckpt.parent.parent)
    try:
        return yaml.safe_load(path.read_text()) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return None


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
