"""`python train.py ...`: compose the config, validate it, train, test, write the results."""

import logging
import shutil
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from omegaconf import DictConfig, OmegaConf

from reglab.callbacks import build_callbacks
from reglab.callbacks.distributed import ProcessGroupTeardown
from reglab.callbacks.divergence import DivergenceError
from reglab.callbacks.seeding import EpochSeeding
from reglab.config import CONFIG_DIR, ConfigError, register_resolvers
from reglab.config.checks import check_hardware, check_monitors, has_validation_split
from reglab.config.schema import to_plain_dict, validate_config
from reglab.data import DatasetError, build_datamodule
from reglab.data.protocol import apply_protocol
from reglab.extras import provenance, start_extras
from reglab.extras.warnings import silence_known_warnings
from reglab.lit import RegLabModule, task_for
from reglab.loggers import build_loggers, finish_wandb, log_final_metrics
from reglab.models import build_model
from reglab.outputs.atomic import AtomicCheckpointIO, read_json
from reglab.outputs.results import print_summary, write_metrics_json
from reglab.outputs.writable import describe, disk_error
from reglab.regularizers import Regularization
from reglab.regularizers.augment import check_images
from reglab.regularizers.early_stopping import early_stopping_record
from reglab.replicas.checks import check_settings as check_replica_settings
from reglab.resume import check_epochs_left, defining_overrides, resume_point
from reglab.threads import configure_threads

log = logging.getLogger("reglab")
register_resolvers()


CHOICE_GROUPS = (
    "dataset",
    "model",
    "regularizer",
    "optimizer",
    "hardware",
    "experiment",
    "protocol",
)


def group_choices(cfg: DictConfig, regularization: Regularization) -> dict[str, str]:
    """The chosen option of each config group, e.g. {'regularizer': 'dropout+weight_decay'}.

    The regularizer is named by what is switched on (Hydra does not record a list of options,
    and `regularizer.l2=1e-3` switches one on without choosing an option), normalization
    layers included (`model.norm`, or `regularizer=batch_norm`).
    """
    choices = {"dataset": cfg.dataset.name, "model": cfg.model.name}
    if HydraConfig.initialized():
        for group in CHOICE_GROUPS:
            value = HydraConfig.get().runtime.choices.get(group)
            if isinstance(value, str):
                choices[group] = value
    active = [] if regularization.name == "none" else [regularization.name]
    norm = cfg.model.get("norm", "none")
    if norm != "none":  # normalization layers count as a regularizer (regularizer=batch_norm)
        active.append(f"{norm}_norm")
    choices["regularizer"] = "+".join(active) or "none"
    return choices


def run_config(
    cfg: DictConfig,
    choices: dict[str, str],
    origin: dict | None = None,
    init_from: str | None = None,
) -> dict:
    """The config as a plain nested dict for loggers, with the group choices as their own keys,
    the provenance (git commit, command, versions) and `init_from` (the checkpoint of another
    run this one started from)."""
    extra = {"provenance": origin} if origin else {}
    if init_from:
        extra["init_from"] = init_from
    return {"choices": choices, **extra, **to_plain_dict(cfg)}


def sweep_group() -> str | None:
    """Jobs of one multirun share a W&B group: the sweep folder's name."""
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().sweep.dir).name
    return None


def run(cfg: DictConfig) -> dict:
    """Trains and tests one configuration; returns what metrics.json holds."""
    settings = validate_config(cfg)  # before anything is built or loaded
    if settings.seeds > 1:  # what replicas cannot do yet: an error now, not after loading
        check_replica_settings(settings)
    check_hardware(settings.hardware)
    processes = settings.hardware.devices if settings.hardware.accelerator == "cpu" else 1
    configure_threads(settings.hardware.threads, processes if isinstance(processes, int) else 1)
    output_dir = Path(settings.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    finished = finished_job(output_dir)
    if finished is not None:
        log.info("Already finished in %s: skipped (resumed sweep)", output_dir)
        return finished
    if settings.extras.ignore_warnings:  # before the data and the model are built
        silence_known_warnings()
    resume = resume_point(
        settings.resume, settings.ckpt_path, output_dir, job_overrides(), is_multirun()
    )
    if resume is not None:
        check_epochs_left(resume, settings.trainer.max_epochs)
        if resume.init_from:
            log.info(
                "Training on from %s (a finished run's checkpoint) in %s", resume.ckpt, output_dir
            )
        elif resume.run_dir != output_dir:  # continue in the run's own folder
            OmegaConf.update(cfg, "paths.output_dir", str(resume.run_dir))
            log.info("Resuming %s (this invocation's log: %s)", resume.run_dir, output_dir)
            output_dir = resume.run_dir
        else:
            log.info("Continuing from %s", resume.ckpt)
    L.seed_everything(settings.seed, workers=True, verbose=False)

    datamodule = build_datamodule(settings.dataset, seed=settings.seed)
    apply_protocol(datamodule, settings.protocol)
    info = datamodule.info
    task = task_for(info)
    check_monitors(settings, cfg, task)  # a monitor naming no metric: now, not after an epoch
    validation = has_validation_split(settings.dataset)
    datamodule.setup("fit")  # find and read the data before a W&B run or checkpoint exists
    if resume is None:
        set_aside_old_checkpoints(output_dir / "checkpoints")
    # config tree, quiet libraries: once the run will start (an error above stays the last
    # line a user sees, and its folder is removed)
    start_extras(cfg, settings.extras, output_dir)
    regularization = Regularization(settings.regularizer)
    if settings.regularizer.augment is not None:
        check_images(settings.regularizer.augment, info.in_shape, settings.dataset.name)
    datamodule.augment = regularization.augmentation(settings.seed)
    if settings.seeds > 1:  # N seeds in one loop: reglab.replicas builds and trains them
        return _train_replicas(settings, cfg, datamodule, regularization, task, output_dir)
    net = build_model(settings.model, info.in_shape, info.num_outputs, regularization)
    if settings.hardware.compile:  # the inner nn.Module; Lightning's loop stays eager
        net = torch.compile(net)
    module = RegLabModule(
        net, task, regularization, optimizer=instantiate(cfg.optimizer), fused=datamodule.fused
    )

    choices = group_choices(cfg, regularization)
    run_name = "-".join(choices[g] for g in ("model", "regularizer", "dataset"))
    origin = provenance()
    logged_config = run_config(cfg, choices, origin, resume and resume.init_from)
    loggers = build_loggers(
        cfg.get("logger"),
        logged_config,
        run_name,
        sweep_group(),
        output_dir / "wandb_id",
        tags=settings.tags,
    )
    # without a validation split there is no "best" checkpoint: last.ckpt only
    callbacks = build_callbacks(cfg.get("callbacks"), task, info.val_is_test or not validation)
    callbacks += regularization.callbacks()
    callbacks += [EpochSeeding(settings.seed), ProcessGroupTeardown()]
    # Lightning adds a progress bar of its own unless told not to: `callbacks.progress_bar=null`
    # must mean no bar.
    show_bar = any(isinstance(c, ProgressBar) for c in callbacks)
    no_validation = {} if validation else {"limit_val_batches": 0}  # no loop, no warnings
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        enable_progress_bar=show_bar,
        plugins=[AtomicCheckpointIO()],  # a full disk never leaves half a checkpoint
        **no_validation,
    )

    record: dict = {"status": "failed", "choices": choices, "overrides": job_overrides()}
    record.update(tags=list(settings.tags), provenance=origin)
    if resume is not None and resume.init_from:
        record["init_from"] = resume.init_from
    start = time.perf_counter()
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume and str(resume.ckpt))
        record["status"] = "interrupted" if trainer.interrupted else "completed"
        record.update(_final_metrics(trainer))
        if trainer.early_stopping_callback is not None:
            record["early_stopping"] = early_stopping_record(trainer.early_stopping_callback)
        if settings.test and not trainer.interrupted:
            ckpt = _test_checkpoint(trainer, settings.test_ckpt, info.val_is_test or not validation)
            trainer.test(module, datamodule=datamodule, ckpt_path=ckpt, verbose=False)
            record.update(_final_metrics(trainer, prefix="test/"))
            record["tested_checkpoint"] = ckpt or "last weights"
        log_final_metrics(loggers, logged_config, record)  # MLflow, TensorBoard hparams
    except DivergenceError as exc:
        # A result, not a crash: a sweep goes on, and the report shows the job as diverged.
        record.update(_final_metrics(trainer))
        record.update(status="diverged", divergence=exc.record, message=str(exc))
        log.error("%s", exc)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and trainer.interrupted:
            # Ctrl-C: Lightning ran on_exception (on_exception.ckpt), then exits
            record.update(_final_metrics(trainer), status="interrupted")
            log.warning("Interrupted: checkpoints and metrics so far are in %s", output_dir)
        else:
            record["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        record["epochs"] = int(trainer.callback_metrics.get("epochs", trainer.current_epoch))
        record["wall_seconds"] = round(time.perf_counter() - start, 3)
        try:
            write_metrics_json(output_dir / "metrics.json", record)
        except OSError as exc:  # a full disk must not hide the error that got us here
            log.error("Could not write metrics.json: %s", exc)
        finish_wandb(exit_code=0 if record["status"] in ("completed", "diverged") else 1)
    print_summary(record)
    log.info("Results in %s", output_dir)
    return record


def _train_replicas(settings, cfg, datamodule, regularization, task, output_dir) -> dict:
    from reglab.replicas.run import RunIdentity, train_replicas

    info, choices, origin = datamodule.info, group_choices(cfg, regularization), provenance()
    identity = RunIdentity(
        choices=choices,
        overrides=job_overrides(),
        config=run_config(cfg, choices, origin),
        run_name="-".join(choices[g] for g in ("model", "regularizer", "dataset")),
        group=sweep_group(),
        tags=list(settings.tags),
        provenance=origin,
    )
    record = train_replicas(
        settings,
        datamodule,
        regularization,
        task,
        lambda: build_model(settings.model, info.in_shape, info.num_outputs, regularization),
        instantiate(cfg.optimizer),
        output_dir,
        identity,
    )
    print_summary(record)
    log.info("Results in %s", output_dir)
    return record


def _test_checkpoint(trainer: L.Trainer, choice: str, val_is_test: bool) -> str | None:
    """The checkpoint to test: the best one, or None for the weights in memory (the last)."""
    if choice == "last" or (choice == "auto" and val_is_test):
        return None
    callback = trainer.checkpoint_callback
    return (callback.best_model_path if callback else "") or None


def _final_metrics(trainer: L.Trainer, prefix: str = "") -> dict:
    return {
        key: float(value)
        for key, value in sorted(trainer.callback_metrics.items())
        if key.startswith(prefix) and "/" in key
    }


def job_overrides() -> list[str]:
    """This job's command-line overrides (what tells jobs of a sweep apart), without
    resume=/ckpt_path=: a resumed sweep's jobs are the same jobs (their completed ones are
    skipped, not run again)."""
    if not HydraConfig.initialized():
        return []
    return defining_overrides(list(HydraConfig.get().overrides.task))


def is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def finished_job(output_dir: Path) -> dict | None:
    """In a multirun, the record of this job if it already completed with the same overrides:
    re-running a sweep into its folder resumes it instead of starting over."""
    if not is_multirun():
        return None
    record = read_json(output_dir / "metrics.json")  # unreadable: not completed, run again
    if not record or record.get("status") != "completed":
        return None
    if sorted(record.get("overrides") or []) == sorted(job_overrides()):
        return record
    return None


def set_aside_old_checkpoints(folder: Path) -> None:
    """A fresh start in a folder where an unfinished run left checkpoints (a failed sweep job
    run again, an explicit hydra.run.dir): its checkpoints move to checkpoints_previous/,
    so they are neither mixed with the new ones (Lightning would write best-v1.ckpt) nor
    lost (resume=true would have continued from them)."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    previous = folder.with_name("checkpoints_previous")
    shutil.rmtree(previous, ignore_errors=True)
    folder.rename(previous)
    log.warning("Starting afresh: the checkpoints already in %s moved to %s", folder, previous)


def remove_unstarted_run(output_dir: Path) -> None:
    """A run stopped by a config or data error leaves no folder: Hydra made it (its .hydra/
    and train.log) before reglab could check anything, and the config tree was printed into
    it. Only such a folder is removed."""
    if not output_dir.is_dir():
        return
    entries = {p.name for p in output_dir.iterdir()}
    if entries <= {".hydra", "train.log", "config_tree.log"}:
        shutil.rmtree(output_dir, ignore_errors=True)


def _record_interrupted(cfg: DictConfig) -> None:
    path = Path(cfg.paths.output_dir) / "metrics.json"
    if read_json(path) is None:
        record = {"status": "interrupted", "epochs": 0, "overrides": job_overrides()}
        try:
            write_metrics_json(path, record)
        except OSError as exc:
            log.error("Could not write %s: %s", path, exc)


def _record_failure(cfg: DictConfig, exc: BaseException) -> None:
    """A job that failed before run() could write metrics.json still leaves one."""
    path = Path(cfg.paths.output_dir) / "metrics.json"
    previous = read_json(path)
    if not previous or previous.get("overrides") != job_overrides():
        record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        try:
            write_metrics_json(path, record | {"overrides": job_overrides()})
        except OSError as write_error:
            log.error("Could not record the failure in %s: %s", path, write_error)


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    return handle_run(cfg)


def handle_run(cfg: DictConfig) -> float | None:
    """Runs one job; a user error or a full disk ends it with one message, not a traceback."""
    # A full disk fails every write to train.log too: stdlib logging would print a
    # "--- Logging error ---" traceback per log call, burying the one line that says why.
    logging.raiseExceptions = False
    own_dir = Path(cfg.paths.output_dir)  # run() may switch to a resumed run's folder
    try:
        record = run(cfg)
    except (ConfigError, DatasetError) as exc:
        # Expected user errors: the message says what to fix; a traceback would bury it.
        log.error("%s", exc)
        if not is_multirun():
            remove_unstarted_run(own_dir)
            sys.exit(1)
        _record_failure(cfg, exc)
        return None
    except KeyboardInterrupt:
        # Ctrl-C before training started (Lightning handles it during training)
        log.warning("Interrupted during start-up, before the first epoch: nothing was trained")
        _record_interrupted(cfg)
        sys.exit(1)
    except Exception as exc:
        full_disk = disk_error(exc)
        if full_disk is not None:  # a full or read-only disk: say so, not a deep traceback
            log.error("%s", describe(full_disk))
            if not is_multirun():
                sys.exit(1)
            _record_failure(cfg, exc)
            return None
        if not is_multirun():
            raise
        # One crashed job must not stop a sweep (Hydra would skip the report): record it.
        log.exception("Job failed; the sweep goes on")
        _record_failure(cfg, exc)
        return None
    return optimized_value(record, cfg.get("optimized_metric"))


def optimized_value(record: dict, metric: str | None) -> float | None:
    """What a sweeper optimises: `optimized_metric` from metrics.json, by default the best
    validation value of the task's monitor. None (a failed trial) when the run has no such
    value, e.g. it diverged before validating."""
    default = next((k for k in record if k.startswith("val/") and k.endswith("_best")), "")
    if metric is None and not is_multirun():
        return record.get(default)  # one run: nothing optimises it, nothing to complain about
    metric = metric or default
    if metric not in record:
        numbers = sorted(k for k, v in record.items() if isinstance(v, float))
        log.error("optimized_metric=%s is not in metrics.json; it has: %s", metric, numbers)
        return None
    return record[metric]
