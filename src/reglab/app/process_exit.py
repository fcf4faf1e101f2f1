"""A finished command's process ends without Python's teardown.

After a command has done its work, CPython frees every module's objects before the process
ends: with torch, Lightning and matplotlib loaded that takes ~1 s (measured: 0.4 s after
`import torch`, 1.0 s after `import torch, lightning`), on every `train.py` and `eval.py`,
and writes nothing. A command that succeeded ends instead with `os._exit(0)` from an exit
handler registered when it starts: Python has by then joined the non-daemon threads and run
every exit handler registered after it (W&B's, MLflow's, multiprocessing's, joblib's), and
this one flushes the logging handlers and the standard streams, which are the only handler
registered before it (`logging`, imported by Hydra) and the only buffers left.

Only a process's entry calls `end_without_teardown` (train.py, eval.py, the console scripts,
`python -m reglab`), never a function called in-process: an exit handler that ends the
process would take over the exit status of its host (pytest's). A command that fails or is
interrupted exits as before (its status, Python's teardown). Under coverage, whose own exit
handler is registered before this one, the process ends normally; so it does with
REGLAB_PYTHON_TEARDOWN=1, for any other wrapper whose exit handlers come first (a profiler
that runs train.py through runpy and reports at exit).
"""

import atexit
import contextlib
import logging
import os
import sys
from collections.abc import Callable


class _Command:
    succeeded = False


def _end_now() -> None:
    if not _Command.succeeded or "coverage" in sys.modules:
        return
    if os.environ.get("REGLAB_PYTHON_TEARDOWN", "") not in ("", "0"):
        return
    logging.shutdown()  # flushes and closes the log files (train.log, Hydra's)
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (`| head`): nothing more to say
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


def end_without_teardown(command: Callable[[], object]) -> None:
    """Runs `command` as this process's work; if it returns, the process ends (status 0)
    once the exit handlers registered after this call have run."""
    atexit.register(_end_now)  # handlers run last-in first-out: this one after the others
    command()
    _Command.succeeded = True
