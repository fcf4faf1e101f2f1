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
}
FIX = (
    "Fix: free space, or write elsewhere with paths.log_dir=/path (or REGLAB_LOG_DIR), "
    "hydra.run.dir=... / hydra.sweep.dir=..."
)


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
    return f"Cannot write{where}: {DISK_ERRNOS[exc.errno]} ({exc.strerror}). {FIX}"


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
    """Before Hydra creates the run / sweep folder: is the folder it goes into writable?
    (The folder's own name carries the start time, so its parent is what can be checked.)"""

    def _check(self, folder: str) -> None:
        parent = Path(folder).parent
        try:
            check_writable(parent)
        except OSError as exc:
            if exc.errno not in DISK_ERRNOS:
                raise
            exc.filename = exc.filename or str(parent)
            log.error("%s", describe(exc))
            print(describe(exc), file=sys.stderr)
            sys.exit(1)

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        self._check(config.hydra.sweep.dir)
