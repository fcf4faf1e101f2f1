"""Output folders that cannot be written, and disks that fill up: one clear line, no
traceback from deep inside a logger or a checkpoint writer."""

import errno
import logging
import os
import tempfile
from pathlib import Path

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
