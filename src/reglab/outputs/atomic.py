"""Files a run leaves are results: each is written whole or not at all.

A write goes to a temporary file next to the target and is renamed over it (rename is
atomic on one file system). When the disk fills up mid-write, the old file (or none) stays,
never a 0-byte `metrics.json` or half a `best.ckpt`; the temporary file is removed.
"""

import csv
import io
import json
import logging
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from reglab.outputs.writable import disk_error

log = logging.getLogger("reglab")


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def atomic_write(path: str | Path, write: Callable[[io.BufferedWriter], None]) -> Path:
    """Calls write(file) on a temporary file, then renames it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        # os.open honours the umask (mkstemp would leave results readable by the owner only)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        interrupt = _interrupt(exc)
        if interrupt is not None and interrupt is not exc:
            # Ctrl-C / SIGTERM inside torch.save surfaces as the RuntimeError its zip writer
            # raises on the way out: it is still an interruption (the run records it as one)
            raise interrupt.with_traceback(None) from None
        full = disk_error(exc)  # also when torch.save wrapped it in a RuntimeError
        if full is not None and not full.filename:
            full.filename = str(path)  # say which file could not be written
        raise
    return path


def _interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (or SIGTERM's Terminated) `exc` was raised while handling."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def write_text(path: str | Path, text: str) -> Path:
    data = text.encode()
    return atomic_write(path, lambda f: f.write(data))


def write_bytes(path: str | Path, data: bytes | memoryview) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """rows as a CSV file, written atomically; the columns in their first appearance's order."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, text.getvalue())


def read_json(path: str | Path) -> dict | None:
    """The JSON object in `path`; None when there is none, or when it cannot be read (an
    interrupted write from before atomic writes, a damaged file): then with a warning, and
    the caller treats the run as not completed."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("Cannot read %s (%s): treated as not completed", path, exc)
        return None
    if not isinstance(value, dict):
        log.warning("%s does not hold a JSON object: treated as not completed", path)
        return None
    return value
