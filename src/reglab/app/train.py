"""Training one configuration: build -> fit and test -> record.

Everything is built from the validated settings (reglab.app.settings); what Hydra knows of
the job (its overrides, multirun, choices) comes in a JobInfo. `reglab.app.job` validates
and handles errors; this module imports torch and Lightning.
"""

import logging
import time
from pathlib import Path

import lightning as L

from reglab import contract
from reglab.app import signals
from reglab.app.build import (
    RunData,
    build_data,
    build_module,
    build_run_loggers,
    build_trainer,
    module_arguments,
)
from reglab.app.checkpoint_fit import check_checkpoint_fits
from reglab.app.checks import check_hardware, tests_a_checkpoint
from reglab.app.job_info import JobInfo
from reglab.app.process_entry import start_up_done
from reglab.app.records import finished_record
from reglab.app.resume import ResumePoint, check_epochs_left, resume_point
from reglab.app.run_folder import set_aside_old_checkpoints
from reglab.app.settings import RunConfig
from reglab.callbacks.divergence import DivergenceError
from reglab.callbacks.early_stopping import EarlyStopping
from reglab.config.errors import ConfigError
from reglab.data.base import InMemoryDataModule
from reglab.data.build import data_class
from reglab.determinism import keep_new_memory_unfilled
from reglab.extras.provenance import provenance
from reglab.extras.start import start_extras
from reglab.extras.warnings import silence_known_warnings
from reglab.lit import RegLabModule
from reglab.loggers import finish_wandb, log_final_metrics
from reglab.outputs.results import print_summary
from reglab.regularizers.regularization import Regularization
from reglab.replicas.checks import NotStackable, stacking_refusal
from reglab.replicas.state import check_resume_checkpoint
from reglab.run_folder import RunFolder, ended, mark
from reglab.threads import configure_threads

log = logging.getLogger("reglab")


def train(settings: RunConfig, job: JobInfo | None = None) -> dict:
    """Trains and tests one configuration; returns what metrics.json holds."""
    job = job or JobInfo()
    # seeds that cannot be stacked train one after another: known before anything is loaded
    not_stacked = seeds_not_stacked_because(settings) if settings.seeds > 1 else None
    if not_stacked is not None and settings.ckpt_path:
        raise ConfigError(
            f"ckpt_path= with seeds={settings.seeds}: these seeds are not stacked "
            f"({not_stacked}), so there is no one checkpoint of them all. Fix: resume=true "
            "continues the run in its folder; to train one replica on from its weights, "
            "seeds=1 seed=<k> ckpt_path=<run>/seed_<k>/checkpoints/last.ckpt"
        )
    prepare_machine(settings)
    output_dir = Path(settings.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    if job.multirun and (done := finished_record(output_dir, job.overrides)) is not None:
        log.info("Already finished in %s: skipped (resumed sweep)", output_dir)
        return done
    resume = find_resume_point(settings, job)
    if resume is not None and not resume.init_from and resume.run_dir != output_dir:
        settings = settings.moved_to(resume.run_dir)  # continue in the run's own folder
        output_dir = resume.run_dir
    folder = RunFolder(output_dir)  # a run folder is written by its own run, one at a time
    folder.check_writer(job.overrides)
    with folder.writing():
        if not_stacked is not None:
            return train_seeds_in_turn(settings, job, resume, not_stacked)
        return train_in_folder(settings, job, resume)


def seeds_not_stacked_because(settings: RunConfig) -> str | None:
    """Why `seeds=N` cannot stack these replicas (the key and why), or None; what is found
    only once the model is built raises NotStackable later (reglab.replicas.checks)."""
    reason = stacking_refusal(settings)
    if reason is not None:
        return reason
    data = data_class(settings.dataset.target)
    if issubclass(data, L.LightningDataModule) and not issubclass(data, InMemoryDataModule):
        return (
            f"dataset._target_={settings.dataset.target} (its own LightningDataModule: stacked "
            "replicas need reglab's in-memory data, each replica its own data order)"
        )
    return None


def train_seeds_in_turn(
    settings: RunConfig, job: JobInfo, resume: ResumePoint | None, reason: str
) -> dict:
    from reglab.app.seeds_in_turn import train_one_after_another

    identity = run_identity(settings, settings.model_dump(by_alias=True), job, resume)
    return train_one_after_another(settings, job, resume, reason, train_in_folder, identity)


def train_in_folder(settings: RunConfig, job: JobInfo, resume: ResumePoint | None) -> dict:
    """Trains and tests in settings.paths.output_dir, which this process may write."""
    output_dir = Path(settings.paths.output_dir)
    L.seed_everything(settings.seed, workers=True, verbose=False)

    data = build_data(settings)
    if resume is None:
        set_aside_old_checkpoints(RunFolder(output_dir).checkpoints)
    # config tree, quiet libraries: once the run will start (an error above stays the last
    # line a user sees, and its folder is removed)
    # the settings as plain values, once: the config tree, the loggers' config, metrics.json
    plain = settings.model_dump(by_alias=True)
    start_extras(plain, settings.extras, output_dir)
    if settings.seeds > 1:  # N seeds in one loop: reglab.replicas builds and trains them
        return train_seeds(settings, plain, data, job, resume)
    module = build_module(settings, data)
    if resume is not None:  # another model's or optimizer's checkpoint: one line, now
        check_checkpoint_fits(resume.ckpt, module, settings)
    record = start_record(settings, plain, job, module.regularization.name, resume)
    loggers = build_run_loggers(settings, record["config"], run_name(record), job.sweep_name)
    trainer = build_trainer(settings, data, module.regularization.callbacks(), loggers)
    config = record.pop("config")
    start = time.perf_counter()
    try:
        fit_and_test(settings, data, module, trainer, resume, record)
        log_final_metrics(loggers, config, record)  # MLflow, TensorBoard hparams
    except DivergenceError as exc:
        # A result, not a crash: a sweep goes on, and the report shows the job as diverged.
        record.update(final_metrics(trainer))
        mark(record, contract.DIVERGED, divergence=exc.record, message=str(exc))
        log.error("%s", exc)
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and trainer.interrupted:
            # Ctrl-C or SIGTERM (reglab.app.signals): Lightning ran on_exception
            # (on_exception.ckpt), then exits with 1
            mark(record, contract.INTERRUPTED, **final_metrics(trainer))
            how = signals.describe(exc)
            log.warning(
                "Interrupted (%s): checkpoints and metrics so far are in %s", how, output_dir
            )
        else:
            record["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        finish_record(settings, trainer, record, time.perf_counter() - start)
    print_summary(record)
    log.info("Results in %s", output_dir)
    return record


def prepare_machine(settings, processes: int | None = None) -> None:
    """The hardware asked for exists; CPU threads are shared among the processes; known
    library warnings are silenced before the data and the model are built; the garbage
    collector, deferred through start-up, resumes (reglab.app.process_entry); deterministic
    algorithms do not fill new tensors with NaN (reglab.determinism). `settings`: a run's or
    an evaluation's (their `hardware` and `extras`); `processes`: the processes sharing the
    cores (None: one per CPU device the run trains on)."""
    start_up_done()
    keep_new_memory_unfilled()
    check_hardware(settings.hardware)
    if processes is None:
        devices = settings.hardware.devices if settings.hardware.accelerator == "cpu" else 1
        processes = devices if isinstance(devices, int) else 1
    configure_threads(settings.hardware.threads, processes)
    if settings.extras.ignore_warnings:
        silence_known_warnings()


def find_resume_point(settings: RunConfig, job: JobInfo) -> ResumePoint | None:
    output_dir = Path(settings.paths.output_dir)
    resume = resume_point(
        settings.resume, settings.ckpt_path, output_dir, job.overrides, job.multirun
    )
    if resume is None:
        return None
    if not resume.ckpt.is_file():  # seeds trained one after another: each replica's own
        log.info("Resuming %s: its replicas each go on from their own checkpoint", resume.run_dir)
        return resume
    # a replica's weights, or a seeds=N run's state for a single run (and the other way
    # round): one line now, not a confusing error after the data are loaded
    check_resume_checkpoint(resume.ckpt, [settings.seed + k for k in range(settings.seeds)])
    check_epochs_left(resume, settings.trainer.max_epochs)
    if resume.init_from:
        log.info("Training on from %s (a finished run's checkpoint) in %s", resume.ckpt, output_dir)
    elif resume.run_dir != output_dir:
        log.info("Resuming %s (this invocation's log: %s)", resume.run_dir, output_dir)
    else:
        log.info("Continuing from %s", resume.ckpt)
    return resume


def group_choices(settings: RunConfig, job: JobInfo, regularization_name: str) -> dict[str, str]:
    """The chosen option of each config group, e.g. {'regularizer': 'dropout+weight_decay'}.

    The regularizer is named by what is switched on (Hydra does not record a list of options,
    and `regularizer.l2=1e-3` switches one on without choosing an option), normalization
    layers included (`model.norm`, or `regularizer=batch_norm`).
    """
    choices = {"dataset": settings.dataset.label, "model": settings.model.label, **job.choices}
    active = [] if regularization_name == "none" else [regularization_name]
    norm = settings.model.keywords().get("norm", "none")
    if norm not in ("none", None):  # normalization layers count as a regularizer
        active.append(f"{norm}_norm")
    choices["regularizer"] = "+".join(active) or "none"
    return choices


def start_record(
    settings: RunConfig,
    plain: dict,
    job: JobInfo,
    regularization_name: str,
    resume: ResumePoint | None,
) -> dict:
    """metrics.json as it stands before training ("failed" until the run says otherwise), and
    under "config" what the loggers get: the validated config (`plain`: the settings as plain
    values), the group choices as their own keys, the provenance and `init_from` (the
    checkpoint of another run this one started from)."""
    choices = group_choices(settings, job, regularization_name)
    origin = provenance()
    init_from = resume.init_from if resume is not None else None
    extra = {"init_from": init_from} if init_from else {}
    config = {"choices": choices, "provenance": origin, **extra}
    config.update(plain)
    record = mark({}, contract.FAILED, choices=choices, overrides=job.overrides)
    record.update(tags=list(settings.tags), provenance=origin, **extra, config=config)
    if job.replica_of is not None:  # as a stacked replica's record says whose it is
        record["replica_of"] = job.replica_of
    return record


def train_seeds(
    settings: RunConfig, plain: dict, data: RunData, job: JobInfo, resume: ResumePoint | None
) -> dict:
    """`seeds=N`: N replicas in one loop, each written as the job a run with its seed would
    write (reglab.app.replicas); `resume`: the run's own checkpoints/last.ckpt."""
    from reglab.app.replicas import train_replicas
    from reglab.lit.optimizer import optimizer_factory
    from reglab.models.build import build_model

    identity = run_identity(settings, plain, job, resume)
    info = data.info
    regularization = Regularization(settings.regularizer)
    try:
        record = train_replicas(
            settings,
            data.datamodule,
            regularization,
            data.task,
            lambda reg: build_model(
                settings.model, info.in_shape, info.num_outputs, reg, info.task
            ),
            optimizer_factory(settings.optimizer.factory_config()),
            Path(settings.paths.output_dir),
            identity,
            module_arguments(settings, data),
            resume_ckpt=resume.ckpt if resume is not None and resume.ckpt.is_file() else None,
        )
    except NotStackable as exc:  # found once the model is built: nothing trained or written
        return train_seeds_in_turn(settings, job, resume, str(exc))
    print_summary(record)
    log.info("Results in %s", settings.paths.output_dir)
    return record


def run_identity(settings: RunConfig, plain: dict, job: JobInfo, resume: ResumePoint | None):
    """What names a run in its records and loggers (a RunIdentity): a `seeds=N` run, whose
    replicas derive theirs from it, or one job of a sweep's pack."""
    from reglab.app.replicas import RunIdentity

    record = start_record(settings, plain, job, Regularization(settings.regularizer).name, resume)
    return RunIdentity(
        choices=record["choices"],
        overrides=job.overrides,
        config=record["config"],
        run_name=run_name(record),
        group=job.sweep_name,
        tags=list(settings.tags),
        provenance=record["provenance"],
    )


def run_name(record: dict) -> str:
    return "-".join(record["choices"][g] for g in contract.NAME_GROUPS)


def fit_and_test(
    settings: RunConfig,
    data: RunData,
    module: RegLabModule,
    trainer: L.Trainer,
    resume: ResumePoint | None,
    record: dict,
) -> None:
    ckpt = str(resume.ckpt) if resume is not None else None
    trainer.fit(module, datamodule=data.datamodule, ckpt_path=ckpt)
    mark(record, contract.INTERRUPTED if trainer.interrupted else contract.COMPLETED)
    record.update(final_metrics(trainer))
    if (stopping := EarlyStopping.record_among(trainer.callbacks)) is not None:
        record["early_stopping"] = stopping
    if settings.test and not trainer.interrupted:
        tested = test_checkpoint(trainer, settings.test_ckpt, data.val_is_test)
        trainer.test(module, datamodule=data.datamodule, ckpt_path=tested, verbose=False)
        record.update(final_metrics(trainer, prefix="test/"))
        record["tested_checkpoint"] = tested or "last weights"


def finish_record(settings: RunConfig, trainer: L.Trainer, record: dict, seconds: float) -> None:
    """Writes metrics.json whatever happened, and closes the W&B run."""
    record["epochs"] = int(trainer.callback_metrics.get("epochs", trainer.current_epoch))
    record["wall_seconds"] = round(seconds, 3)
    try:
        RunFolder(settings.paths.output_dir).write_record(record)
    except OSError as exc:  # a full disk must not hide the error that got us here
        log.error("Could not write metrics.json: %s", exc)
    ok = ended(record["status"])
    finish_wandb(exit_code=0 if ok else 1)


def test_checkpoint(trainer: L.Trainer, choice: str, val_is_test: bool) -> str | None:
    """The checkpoint to test: the best one, or None for the weights in memory (the last)."""
    if not tests_a_checkpoint(choice, val_is_test):
        return None
    callback = trainer.checkpoint_callback
    return (callback.best_model_path if callback else "") or None


def final_metrics(trainer: L.Trainer, prefix: str = "") -> dict:
    return {
        key: float(value)
        for key, value in sorted(trainer.callback_metrics.items())
        if key.startswith(prefix) and "/" in key
    }
