"""metrics.json beyond a normal ending: a job skipped because it already completed, a job
that failed or was interrupted before training could record itself, and the value a sweeper
optimises."""

import logging
from pathlib import Path

from reglab import contract
from reglab.run_folder import RunFolder, ended, mark

log = logging.getLogger("reglab")


def finished_record(output_dir: Path, overrides: list[str]) -> dict | None:
    """The record of this job if it already finished (completed or diverged: a result) with the
    same overrides: re-running a sweep into its folder resumes it instead of starting over."""
    record = RunFolder(output_dir).record()  # unreadable: run again
    if not record or not ended(record.get("status")):
        return None
    if sorted(record.get("overrides") or []) == sorted(overrides):
        return record
    return None


def _ours(output_dir: Path, overrides: list[str]) -> bool:
    """This job may record itself here: the folder holds no run, or this job's unfinished one
    (reglab.run_folder: a run folder is written only by its own run)."""
    folder = RunFolder(output_dir)
    return not folder.holds_run() or folder.unfinished_run_of(overrides)


def record_interrupted(output_dir: Path, overrides: list[str]) -> None:
    folder = RunFolder(output_dir)
    if folder.record() is None and _ours(output_dir, overrides):
        record = mark({}, contract.INTERRUPTED, epochs=0, overrides=overrides)
        try:
            folder.write_record(record)
        except OSError as exc:
            log.error("Could not write %s: %s", folder.metrics_json, exc)


def record_failure(output_dir: Path, overrides: list[str], exc: BaseException) -> None:
    """A job that failed before training could write metrics.json still leaves one."""
    folder = RunFolder(output_dir)
    previous = folder.record()
    if not _ours(output_dir, overrides):
        log.error("Not recorded in %s: it holds another run", output_dir)
        return
    if not previous:  # a record of this run says more than a failure: keep it
        record = mark({}, contract.FAILED, error=f"{type(exc).__name__}: {exc}")
        try:
            folder.write_record(record | {"overrides": overrides})
        except OSError as write_error:
            log.error("Could not record the failure in %s: %s", folder.metrics_json, write_error)


def record_lost(output_dir: Path, overrides: list[str], error: str) -> None:
    """A job whose process died under it (a launcher worker killed by the out-of-memory
    killer) is `failed`, with `error`; what its record had written so far is kept, and a
    record with a result is never touched."""
    folder = RunFolder(output_dir)
    previous = folder.record() or {}
    if ended(previous.get("status")) or not _ours(output_dir, overrides):
        return
    record = mark(dict(previous), contract.FAILED, error=error, overrides=overrides)
    try:
        folder.write_record(record)
    except OSError as write_error:
        log.error("Could not record the failure in %s: %s", folder.metrics_json, write_error)


def optimized_value(record: dict, metric: str | None, multirun: bool) -> float | None:
    """What a sweeper optimises: `optimized_metric` from metrics.json, by default the best
    validation value of the task's monitor. None (a failed trial) when the run has no such
    value, e.g. it diverged before validating."""
    default = contract.monitor_best_key(record) or ""
    if metric is None and not multirun:
        return record.get(default)  # one run: nothing optimises it, nothing to complain about
    metric = metric or default
    if metric not in record:
        numbers = sorted(k for k, v in record.items() if isinstance(v, float))
        log.error("optimized_metric=%s is not in metrics.json; it has: %s", metric, numbers)
        return None
    return record[metric]
