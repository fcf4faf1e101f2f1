"""What a command's process does around the command (train.py, eval.py, the console scripts,
`python -m reglab`): Python's cyclic garbage collector waits until start-up is over, and a
command that succeeded ends without Python's teardown.

The collector: importing torch, Lightning and Hydra and composing a sweep's configs creates
~550,000 long-lived objects, and every full collection walks all of them: ten during a
toy1d sweep's start-up (~1 s in all, growing to 240 ms each), one more during its report.
Here the collector is off through start-up; when training is about to start
(`start_up_done`, from prepare_machine and evaluate) one collection frees start-up's
garbage, the survivors are frozen (never walked again: `gc.freeze`) and collection resumes,
for the objects of training on.

The exit: after the work, CPython frees every module's objects before the process ends:
with torch, Lightning and matplotlib loaded that takes ~1 s (measured: 0.4 s after
`import torch`, 1.0 s after `import torch, lightning`) and writes nothing. A command that
succeeded ends instead with `os._exit(0)` from an exit handler registered when it starts:
Python has by then joined the non-daemon threads and run every exit handler registered after
it (W&B's, MLflow's, multiprocessing's, joblib's), and this one flushes the logging handlers
and the standard streams, which are the only handler registered before it (`logging`,
imported by Hydra) and the only buffers left.

Only a process's entry calls `run_command`, never a function called in-process: an exit
handler that ends the process would take over the exit status of its host (pytest's). A
command that fails or is interrupted exits as before (its status, Python's teardown). Under
coverage, whose own exit handler is registered before this one, the process ends normally;
so it does with REGLAB_PYTHON_TEARDOWN=1, for any other wrapper whose exit handlers come
first (a profiler that runs train.py through runpy and reports at exit).
"""

import atexit
import contextlib
import gc
import logging
import os
import sys
from collections.abc import Callable


class _Command:
    succeeded = False
    collection_deferred = False


def start_up_done() -> None:
    """Training (or evaluation) is about to start: start-up's garbage is collected once, what
    survives is frozen, collection resumes. Does nothing outside `run_command` (in-process
    callers keep their collector as it is) and after the first call."""
    if not _Command.collection_deferred:
        return
    _Command.collection_deferred = False
    gc.collect()
    gc.freeze()
    gc.enable()


def defer_collection() -> None:
    """This process is a command's (or a launcher worker's): no cyclic collection until
    `start_up_done`."""
    if gc.isenabled():
        gc.disable()
        _Command.collection_deferred = True


def _end_now() -> None:
    if not _Command.succeeded or "coverage" in sys.modules:
        return
    if os.environ.get("REGLAB_PYTHON_TEARDOWN", "") not in ("", "0"):
        return
    exit_without_teardown()


def exit_without_teardown() -> None:
    """Flushes what is buffered (the log files, stdout, stderr) and ends the process, status
    0, without Python's teardown."""
    logging.shutdown()  # flushes and closes the log files (train.log, Hydra's)
    # None: started without one (`>&-`)
    for stream in [s for s in (sys.stdout, sys.stderr) if s is not None]:
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`)
            stream.flush()
    os._exit(0)


def run_command(command: Callable[[], object]) -> None:
    """Runs `command` as this process's work, the collector off until `start_up_done` (a
    command that trains nothing, `--cfg job` or `reglab-report`, is short and runs without
    it); if it returns, the process ends (status 0) once the exit handlers registered after
    this call have run."""
    from reglab.app.closed_output import drop_output_once_closed

    atexit.register(_end_now)  # handlers run last-in first-out: this one after the others
    defer_collection()
    drop_output_once_closed()  # `| head`: the run goes on, its output dropped
    command()
    _Command.succeeded = True
