"""Output folders that cannot be written, and disks that fill up: one clear line, no
traceback from deep inside a logger or a checkpoint writer."""

import errno
import logging
import os
import sys
import tempfile
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("reglab")

DISK_ERRNOS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EFBIG: "the file is larger than this process may write (ulimit -f) or the disk holds",
}
ELSEWHERE = (
    "write elsewhere with paths.log_dir=/path (or REGLAB_LOG_DIR), "
    "hydra.run.dir=... / hydra.sweep.dir=..."
)
# "free space" only where space is what is missing
SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def disk_error(exc: BaseException) -> OSError | None:
    """The OSError of a write that failed for lack of space or permission, also when a
    library wrapped it in another exception."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def describe(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    reason = DISK_ERRNOS.get(exc.errno, "it cannot be created there")
    fix = f"free space, or {ELSEWHERE}" if exc.errno in SPACE else ELSEWHERE
    return f"Cannot write{where}: {reason} ({exc.strerror}). Fix: {fix}"


def check_writable(folder: Path) -> None:
    """Creates `folder` and writes a file in it; raises OSError when that is impossible."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".reglab-write-check-"):
        pass
    if not os.access(folder, os.W_OK):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(folder))


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
        from reglab.run_folder import FolderTaken, RunFolder

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
        from reglab.run_folder import FolderTaken, check_sweep_folder

        try:
            check_sweep_folder(Path(config.hydra.sweep.dir), list(config.hydra.overrides.task))
        except FolderTaken as exc:
            self._stop(str(exc))
        self._check(config.hydra.sweep.dir)
