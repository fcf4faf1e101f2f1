"""A command whose output's reader is gone (`python train.py ... | head`, a closed terminal's
pipe) goes on with its work: what it prints from then on is dropped, its results are in its
files. Without this, the first write raised BrokenPipeError: rich's console (Lightning's
progress bar, reglab's summary) turned it into SystemExit, which Lightning recorded as an
interruption of a run that had trained to the end, and every log line printed a
"--- Logging error ---" traceback on stderr."""

import contextlib
import os
import sys


class _DropWhenClosed:
    """A text stream whose writes and flushes go on after its pipe closed: the first broken
    write points the stream's file descriptor at /dev/null, so everything after it (and
    what was buffered) is written there. Everything else is the stream's own."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._to_devnull()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._to_devnull()

    def _to_devnull(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()  # what was buffered: to /dev/null now

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def drop_output_once_closed() -> None:
    """sys.stdout and sys.stderr from now on (before logging's and rich's handlers take them)
    drop what they are given once their reader is gone."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, _DropWhenClosed):
            setattr(sys, name, _DropWhenClosed(stream))
