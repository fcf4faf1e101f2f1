"""Hydra's check of the folder a run or sweep is about to write: is it writable, and may this
run write it (reglab.run_folder)? Before Hydra creates anything there."""

import errno
import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from reglab.outputs.writable import check_writable, describe
from reglab.run_folder import FolderTaken, RunFolder, check_sweep_folder


class OutputDirCheck(Callback):
    """Before Hydra creates the run / sweep folder: is the folder it goes into writable, and
    may this run write it (reglab.run_folder)? (The folder's own name carries the start time,
    so its parent is what can be checked.) `writer`: train, or eval (which never writes a
    training run's folder)."""

    def __init__(self, writer: str = "train"):
        self.writer = writer

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
        except FolderTaken as exc:
            self._stop(str(exc))
        self._check(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            check_sweep_folder(Path(config.hydra.sweep.dir), list(config.hydra.overrides.task))
        except FolderTaken as exc:
            self._stop(str(exc))
        self._check(config.hydra.sweep.dir)
