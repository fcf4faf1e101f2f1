"""`seeds=N` whose replicas cannot be stacked (reglab.replicas.checks says why): the N seeds
train one after another in this process, each as the single run with its seed
(`train_in_folder`, the one training path), written in the layout of a stacked run:
`<run>/seed_<k>/` as that single run's folder (with the .hydra/ files a job of a multirun over
`seed=` has), and the run folder's own metrics.json (statuses and means: `run_record`).

A replica that diverges or crashes is recorded and the next one trains. Ctrl-C or SIGTERM
keeps the finished replicas, records the current one as its single run does (its
checkpoints, `interrupted`) and the ones not started as interrupted before training, and
exits with 1; `resume=true` keeps the finished replicas (a finished run folder is never
rewritten), continues the interrupted one from its last.ckpt and trains the rest.
"""

import csv
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from reglab import contract
from reglab.app import signals
from reglab.app.job_info import JobInfo
from reglab.app.records import finished_record, record_interrupted
from reglab.app.replicas import run_record
from reglab.app.resume import ResumePoint, check_epochs_left
from reglab.app.settings import RunConfig
from reglab.config.errors import ConfigError
from reglab.data.errors import DatasetError
from reglab.outputs.results import print_summary
from reglab.replicas.folders import replica_overrides
from reglab.replicas.outputs import plot_replica_curves, write_hydra_files
from reglab.replicas.state import check_single_run_checkpoint
from reglab.run_folder import RunFolder, mark

log = logging.getLogger("reglab")


def replica_settings(settings: RunConfig, seed: int, folder: Path) -> RunConfig:
    """The settings of the single run replica `seed` stands for: seed=k, seeds=1, every path
    of the run's folder moved into its own."""
    moved = settings.moved_to(folder)
    return moved.model_copy(update={"seed": seed, "seeds": 1, "resume": False})


def train_one_after_another(
    settings: RunConfig,
    job: JobInfo,
    resume: ResumePoint | None,
    reason: str,
    train_in_folder: Callable[[RunConfig, JobInfo, ResumePoint | None], dict],
    identity,
) -> dict:
    """Trains `settings.seeds` single runs (seeds settings.seed + k) into the run folder's
    replica folders, each with `train_in_folder` (reglab.app.train's: the one training path,
    passed in so that this module does not import the one that calls it); `identity`: the
    run's RunIdentity. Returns the run's record (reglab.app.replicas.run_record)."""
    output_dir = Path(settings.paths.output_dir)
    run = RunFolder(output_dir)
    seeds = [settings.seed + k for k in range(settings.seeds)]
    log.info(
        "seeds=%d are not stacked: %s; the %d seeds train one after another, each as its "
        "single run",
        len(seeds),
        reason,
        len(seeds),
    )
    records: dict[int, dict] = {}
    start = time.perf_counter()
    for seed in seeds:
        replica = run.replica(seed)
        overrides = replica_overrides(job.overrides, seed)
        done = finished_record(replica.path, overrides)
        if done is not None:  # a finished replica is never trained (or rewritten) again
            log.info("seed=%d finished already (%s): kept", seed, done["status"])
            records[seed] = done
            continue
        single = replica_settings(settings, seed, replica.path)
        write_hydra_files(replica, overrides, single.model_dump(by_alias=True))
        replica_job = JobInfo(
            overrides=overrides,
            multirun=job.multirun,
            choices=job.choices,
            sweep_name=job.sweep_name or output_dir.name,  # its loggers' group: the run's
            replica_of=str(output_dir),
        )
        log.info("seed=%d (%d of %d) in %s", seed, seeds.index(seed) + 1, len(seeds), replica.path)
        try:
            with replica.writing():
                point = _continue_from(replica, resume, single)
                records[seed] = train_in_folder(single, replica_job, point)
        except (KeyboardInterrupt, SystemExit) as exc:
            if isinstance(exc, SystemExit) and replica.status() != contract.INTERRUPTED:
                raise  # not an interruption (Lightning exits with 1 after one)
            signals.shield()
            _record_interrupted(run, job, settings, seeds, seed, records)
            _finish(identity, run, seeds, records, time.perf_counter() - start)
            log.warning(
                "Interrupted (%s) in seed=%d: the replicas finished before it are kept; "
                "resume=true continues seed=%d from its last checkpoint, then trains the rest",
                signals.describe(exc),
                seed,
                seed,
            )
            sys.exit(1)
        except (ConfigError, DatasetError):
            raise  # the same for every seed: one line, now
        except Exception as exc:  # this replica crashed: recorded (failed), the others go on
            log.exception("seed=%d failed (%s); the other seeds go on", seed, exc)
            records[seed] = replica.record() or mark(
                {}, contract.FAILED, error=f"{type(exc).__name__}: {exc}", overrides=overrides
            )
    summary = _finish(identity, run, seeds, records, time.perf_counter() - start)
    print_summary(summary)
    log.info("Results in %s", output_dir)
    return summary


def _continue_from(
    replica: RunFolder, resume: ResumePoint | None, settings: RunConfig
) -> ResumePoint | None:
    """resume=true on the run: each replica goes on from its own last.ckpt, as its single run
    would (checked as a single run's checkpoint); a replica without one starts afresh."""
    if resume is None or not replica.last_ckpt.is_file():
        return None
    point = ResumePoint(replica.path, replica.last_ckpt)
    check_single_run_checkpoint(point.ckpt)
    check_epochs_left(point, settings.trainer.max_epochs)
    log.info("Continuing %s from %s", replica.path.name, point.ckpt)
    return point


def _record_interrupted(
    run: RunFolder,
    job: JobInfo,
    settings: RunConfig,
    seeds: list[int],
    current: int,
    records: dict[int, dict],
) -> None:
    """The interrupted replica's record (its single run wrote it, unless it was stopped before
    training), and the replicas not started: their folders, recorded interrupted before
    training, so the run's folder holds every replica as a stacked run's does."""
    for seed in seeds:
        if seed in records:
            continue
        replica = run.replica(seed)
        overrides = replica_overrides(job.overrides, seed)
        if seed != current:
            single = replica_settings(settings, seed, replica.path)
            write_hydra_files(replica, overrides, single.model_dump(by_alias=True))
        record_interrupted(replica.path, overrides)
        records[seed] = replica.record() or mark({}, contract.INTERRUPTED, epochs=0)


def _finish(identity, run: RunFolder, seeds: list[int], records: dict, wall: float) -> dict:
    """The run's curves.png (every replica's) and its metrics.json; returns that record."""
    ordered = [records[seed] for seed in seeds]
    for record in ordered:
        record.setdefault("epochs", 0)
    rows = {seed: _rows(run.replica(seed).metrics_csv) for seed in seeds}
    regression = not any("train/acc" in row for replica in rows.values() for row in replica)
    plot_replica_curves(rows, run.curves_png, regression)
    summary = run_record(identity, seeds, ordered, run, round(wall, 3))
    run.write_record(summary)
    return summary


def _rows(path: Path) -> list[dict]:
    """A replica's metrics.csv rows as numbers (empty cells left out)."""
    if not path.is_file():
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(f)]
