"""One job, as Hydra starts it: what Hydra knows of it, and how its ending is handled.

Torch-free until the config is valid: a config error costs the time of composing and
validating, not of importing torch and Lightning (scripts/bench_startup.py).
"""

import logging
import shlex
import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from reglab.app import signals
from reglab.app.job_info import JobInfo
from reglab.app.records import optimized_value, record_failure, record_interrupted
from reglab.app.run_folder import remove_unstarted_run
from reglab.app.settings import RunConfig, validate_config
from reglab.config.errors import ConfigError
from reglab.data.errors import DatasetError
from reglab.extras.command import program
from reglab.outputs.writable import describe, disk_error

log = logging.getLogger("reglab")


def check_not_a_declared_sweep() -> None:
    """An experiment (or hparams_search) that declares a sweep in hydra.sweeper.params, run
    without -m, would quietly train only its first case: say so instead. A command that gives
    each swept key one value runs that one case."""
    if not HydraConfig.initialized():
        return
    hydra = HydraConfig.get()
    params = dict(hydra.sweeper.get("params") or {})
    if hydra.mode == RunMode.MULTIRUN or not params:
        return
    given = {o.lstrip("+~").split("=", 1)[0] for o in hydra.overrides.task}
    unset = [key for key in params if key.lstrip("+~") not in given]
    if not unset:
        return
    choices = hydra.runtime.choices
    declared = [
        f"{group}={choices[group]}"
        for group in ("experiment", "hparams_search")
        if isinstance(choices.get(group), str)
    ]
    who = " and ".join(declared) or "the config"
    swept = ", ".join(f"{key}={params[key]}" for key in unset)
    command = shlex.join(list(hydra.overrides.task))
    raise ConfigError(
        f"{who} declares a sweep ({swept}): add -m to run it "
        f"({program('train')} -m {command}), or give each swept key one value"
    )


def run(cfg: DictConfig, job: JobInfo | None = None) -> dict:
    """Validates a composed config, then trains and tests it; returns metrics.json's record."""
    settings = validate_config(cfg)  # before anything is built or loaded
    return train_settings(settings, job or JobInfo.from_hydra())


def train_settings(settings: RunConfig, job: JobInfo) -> dict:
    from reglab.app.train import train  # torch and Lightning: only for a valid config

    return train(settings, job)


def handle_run(cfg: DictConfig) -> float | None:
    """Runs one job; a user error or a full disk ends it with one message, not a traceback."""
    # A full disk fails every write to train.log too: stdlib logging would print a
    # "--- Logging error ---" traceback per log call, burying the one line that says why.
    logging.raiseExceptions = False
    job = JobInfo.from_hydra()
    own_dir = Path(cfg.paths.output_dir)  # a resumed run goes on in its own folder instead
    try:
        with signals.interruption_kept():
            check_not_a_declared_sweep()
            settings = validate_config(cfg)  # before anything is built or loaded
            record = train_settings(settings, job)
    except (ConfigError, DatasetError) as exc:
        # Expected user errors: the message says what to fix; a traceback would bury it.
        log.error("%s", exc)
        if not job.multirun:
            remove_unstarted_run(own_dir)
            sys.exit(1)
        record_failure(own_dir, job.overrides, exc)
        return None
    except KeyboardInterrupt as exc:
        # Ctrl-C or SIGTERM (reglab.app.signals) before training started; during training,
        # Lightning's loop and the replica loop record the epochs done and exit themselves
        signals.shield()  # a second Ctrl-C must not cut the record short
        how = signals.describe(exc)
        log.warning(
            "Interrupted (%s) during start-up, before the first epoch: nothing was trained", how
        )
        record_interrupted(own_dir, job.overrides)
        sys.exit(1)
    except Exception as exc:
        full_disk = disk_error(exc)
        if full_disk is not None:  # a full or read-only disk: say so, not a deep traceback
            log.error("%s", describe(full_disk))
            if not job.multirun:
                sys.exit(1)
            record_failure(own_dir, job.overrides, exc)
            return None
        record_failure(own_dir, job.overrides, exc)  # the folder says why, as a sweep job's
        if not job.multirun:
            raise
        # One crashed job must not stop a sweep (Hydra would skip the report): record it.
        log.exception("Job failed; the sweep goes on")
        return None
    return optimized_value(record, settings.optimized_metric, job.multirun)
