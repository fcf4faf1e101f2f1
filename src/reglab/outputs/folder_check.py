"""Hydra's check of the folder a run or sweep is about to write: is it writable, and may this
run write it (reglab.run_folder)? Before Hydra creates anything there."""

import errno
import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from reglab.outputs.atomic import write_bytes
from reglab.outputs.writable import check_writable, describe
from reglab.run_folder import FolderTaken, RunFolder, check_sweep_folder


class OutputDirCheck(Callback):
    """Before Hydra creates the run / sweep folder: is the folder it goes into writable, and
    may this run write it (reglab.run_folder)? (The folder's own name carries the start time,
    so its parent is what can be checked.) `writer`: train, or eval (which never writes a
    training run's folder)."""

    def __init__(self, writer: str = "train"):
        self.writer = writer
        # a resumed sweep's finished jobs: their .hydra/ and train.log as they were, restored
        # after Hydra rewrote them for the job it then skips (finished_jobs, restore)
        self.finished: dict[str, dict[str, bytes | None]] = {}

    def _check(self, folder: str) -> None:
        folder = Path(folder)
        try:
            if folder.exists() and not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
            check_writable(folder.parent)
        except OSError as exc:  # any reason: /proc/x, a file in the way, a full disk
            if not exc.filename or ".reglab-write-check-" in str(exc.filename):
                exc.filename = str(folder)  # the folder asked for, not our probe file
            self._stop(describe(exc))

    @staticmethod
    def _stop(message: str) -> None:
        print(message, file=sys.stderr)  # (Hydra's console log would print it a second time)
        sys.exit(1)

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        folder = Path(config.hydra.run.dir)
        # before Hydra writes its .hydra/ and train.log there: a run folder is its run's
        try:
            RunFolder(folder).check_writer(
                list(config.hydra.overrides.task), evaluating=self.writer == "eval"
            )
            self._check(config.hydra.run.dir)
            if self.writer == "train":  # one writer: taken before Hydra writes there
                RunFolder(folder).hold()
        except FolderTaken as exc:
            self._stop(str(exc))

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        RunFolder(Path(config.hydra.run.dir)).release()

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            check_sweep_folder(sweep_dir, list(config.hydra.overrides.task))
        except FolderTaken as exc:
            self._stop(str(exc))
        self._check(config.hydra.sweep.dir)
        self.finished = finished_jobs(sweep_dir)

    def on_job_end(self, config: DictConfig, job_return=None, **kwargs) -> None:
        saved = self.finished.get(str(Path(config.hydra.runtime.output_dir).resolve()))
        if saved:
            restore(saved)


def finished_jobs(sweep_dir: Path) -> dict[str, dict[str, bytes | None]]:
    """The files Hydra rewrites in a job folder before the job runs (.hydra/*.yaml, the
    appended train.log), for every finished job of a sweep run again: a finished run's files
    are never rewritten, so they are put back after its (skipped) job."""
    if not sweep_dir.is_dir():
        return {}
    saved = {}
    for job in sweep_dir.iterdir():
        if not job.is_dir() or not RunFolder(job).finished():
            continue
        files = RunFolder(job).hydra_files
        saved[str(job.resolve())] = {str(f): f.read_bytes() if f.is_file() else None for f in files}
    return saved


def restore(saved: dict[str, bytes | None]) -> None:
    for path, content in saved.items():
        path = Path(path)
        current = path.read_bytes() if path.is_file() else None
        if current == content:
            continue
        if content is None:
            path.unlink(missing_ok=True)
        else:
            write_bytes(path, content)
