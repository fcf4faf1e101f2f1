"""Worker processes that run a sweep's units (packs, lone jobs) side by side:
`hydra/launcher=stacked` with `hydra.launcher.n_jobs=k`.

Why not joblib (loky) or concurrent.futures: an interrupted sweep must stop as one run does.
Ctrl-C or SIGTERM makes every busy worker checkpoint its unit and write its records (the same
command then continues them), and nothing more starts. Those pools terminate their workers
on an interruption (no checkpoint, no record), and a worker that dies (the out-of-memory
killer) breaks the whole pool. Here:

- Each worker is a spawned process in its own process group, so a terminal's Ctrl-C reaches
  only the launcher, which passes exactly one signal (SIGINT for Ctrl-C, SIGTERM for SIGTERM)
  to each busy worker: a second one could interrupt its clean-up, and a worker between units
  must not be interrupted at all (it ignores both signals then).
- A unit that stops on its own interruption (a signal sent to the worker) stops the sweep the
  same way: the other busy workers get the same signal.
- A worker that dies loses its unit only (`lost` says so, the launcher records its jobs as
  failed) and is replaced while units are left.
- Workers are handed one unit at a time, the first units first (the caller orders them,
  longest first), so a pool keeps every worker busy until the last units.
- A WorkerPool starts its workers before it has units (a launcher starts them, then composes
  its plan while they import torch) and keeps them between calls (an Optuna search's batches
  pay the start-up once).

Torch-free: the workers import what their units need.
"""

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import ClassVar

log = logging.getLogger("reglab")
STOPPING = (signal.SIGINT, signal.SIGTERM)  # what stops a sweep

STOPPING_UNITS = (
    "the running units write their files as of their last checkpoint; nothing more starts"
)
# (not run statuses: these name what became of a unit, reglab.contract names runs)
DONE, INTERRUPTED, FAILED, LOST = "done", "stopped", "raised", "lost"


@dataclass
class Outcome:
    """What became of a unit: DONE (`value`: what `run` returned), INTERRUPTED (it stopped on
    Ctrl-C / SIGTERM, its files written as of its last checkpoint: `value` may still hold what
    `run` returned), FAILED (`run` raised, or its value did not pickle: `error` is the
    traceback) or LOST (its worker died: `error` says how)."""

    status: str
    value: object = None
    error: str | None = None


class _Worker:
    def __init__(self, context, setup: Callable[[], None], run: Callable[[object], object]):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, setup, run), daemon=False)
        # it starts with SIGINT and SIGTERM blocked (the mask is inherited), until it has the
        # handlers that note them: a Ctrl-C while Python starts there must not kill it
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        child.close()
        self.task: int | None = None  # the index of the unit it runs
        self.signalled = False
        self.used = False  # it was given a unit

    def give(self, index: int, unit: object) -> None:
        self.task, self.signalled, self.used = index, False, True
        with contextlib.suppress(OSError):  # it died: its sentinel says so (LOST)
            self.conn.send(unit)

    def signal(self, signum: int) -> None:
        """One signal per unit: a second one could interrupt the unit's clean-up."""
        if self.task is not None and not self.signalled:
            self.signalled = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signum)

    def close(self) -> None:
        if not self.used:  # nothing of its own to finish; it may still be importing
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join()
        self.conn.close()


class _Interruption:
    """Ctrl-C and SIGTERM to the launcher while its workers run: the first is noted (and
    wakes the wait), later ones are ignored; no KeyboardInterrupt can land between receiving
    a worker's message and filing it."""

    def __init__(self):
        self.signum: int | None = None
        self.wake_read, self.wake_write = os.pipe()
        self.saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def __enter__(self):
        for signum in self.saved:
            signal.signal(signum, self._note)
        return self

    def _note(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum
            os.write(self.wake_write, b"!")

    def __exit__(self, *exc) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        os.close(self.wake_read)
        os.close(self.wake_write)


class WorkerPool:
    """`size` spawned workers (`setup()` first in each), started by a thread of their own:
    they import what their units need while the caller does what it does before it has units
    (a launcher composing its plan), and they stay for later calls of `run_units` (an Optuna
    search's batches) until `close()`. `setup` and `run` must pickle: module-level
    functions, or partials of them.

    (Not forked from a fork server that imports torch once: tried, and on 2 cores it saved no
    measurable time, while the server became one process whose death stopped every worker,
    and whose workers outlived a killed launcher.)"""

    def __init__(self, size: int, setup: Callable[[], None], run: Callable[[object], object]):
        self._context = multiprocessing.get_context("spawn")
        self._setup, self._run = setup, run
        self._workers: list[_Worker] = []
        self._size = size
        self._start_error: BaseException | None = None
        # (a spawned worker's start returns once it has its pickled target: ~0.1 s)
        self._starting = threading.Thread(target=self._start, daemon=True, name="reglab-workers")
        self._starting.start()

    def _start(self) -> None:
        try:
            while len(self._workers) < self._size:
                self._workers.append(self._new_worker())
        except BaseException as exc:  # raised where the workers are first needed
            self._start_error = exc

    def _new_worker(self) -> "_Worker":
        return _Worker(self._context, self._setup, self._run)

    def _started(self) -> None:
        self._starting.join()
        if self._start_error is not None:
            error, self._start_error = self._start_error, None
            raise error

    @property
    def size(self) -> int:
        return self._size

    def grow(self, size: int) -> None:
        """At least `size` workers from now on; one that died while idle is replaced."""
        self._started()
        self._size = max(self._size, size)
        for worker in [w for w in self._workers if not w.process.is_alive()]:
            self._drop(worker)
        while len(self._workers) < self._size:
            self._workers.append(self._new_worker())

    def resize(self, size: int) -> None:
        """`size` workers from now on: more are started, or idle ones end (first those
        that never ran a unit: they may still be importing, on cores the others need)."""
        if size >= self._size:
            self.grow(size)
            return
        self._started()
        self._size = size
        idle = sorted((w for w in self._workers if w.task is None), key=lambda w: w.used)
        for worker in idle[: max(0, len(self._workers) - size)]:
            self._workers.remove(worker)
            worker.close()

    def live_workers(self) -> int:
        """The workers alive now (started, or starting)."""
        self._started()
        return sum(1 for w in self._workers if w.process.is_alive())

    def run_units(
        self,
        units: list,
        on_outcome: Callable[[int, Outcome], None] | None = None,
        replace: bool = True,
        stopping: str = STOPPING_UNITS,
    ) -> tuple[list[Outcome | None], int | None]:
        """Runs `run(unit)` for each unit in the pool's workers. Returns each unit's Outcome
        (None: never started, the sweep was interrupted first, or no worker was left) and the
        signal that interrupted the sweep (None if none did); `on_outcome(index, outcome)`
        hears of each as it comes. `replace=False`: a worker that died is not replaced (a
        new one would first import for seconds). `stopping`: what an interruption's log line
        says happens. Main thread only (it handles the signals).
        After an interruption the workers that ran a unit have exited; the pool is for
        closing."""
        pending = deque(range(len(units)))
        outcomes: list[Outcome | None] = [None] * len(units)
        stop: int | None = None
        pool = self._workers
        with _Interruption() as interruption:
            try:
                if replace:
                    self.grow(self._size)  # (started; one that died while idle replaced)
                else:
                    self._started()
                    for worker in [w for w in pool if not w.process.is_alive()]:
                        self._drop(worker)
                while True:
                    if stop is None and interruption.signum is not None:
                        stop = interruption.signum
                        log.warning(
                            "Interrupted (%s): %s",
                            "SIGTERM" if stop == signal.SIGTERM else "Ctrl-C",
                            stopping,
                        )
                    elif stop is None and any(o and o.status == INTERRUPTED for o in outcomes):
                        stop = signal.SIGINT  # a unit stopped on its own signal: the sweep does
                    if stop is None:
                        for worker in pool:
                            if worker.task is None and pending:
                                index = pending.popleft()
                                worker.give(index, units[index])
                    else:
                        for worker in pool:
                            worker.signal(stop)
                    busy = [w for w in pool if w.task is not None]
                    if not busy:
                        break
                    for index in _collect(busy, outcomes, interruption.wake_read):
                        if on_outcome is not None:
                            on_outcome(index, outcomes[index])
                    for worker in [w for w in pool if not w.process.is_alive() and w.task is None]:
                        self._drop(worker)  # died, or stopped after an interrupted unit
                        if replace and stop is None and pending and interruption.signum is None:
                            pool.append(self._new_worker())
            except BaseException:
                self.close()
                raise
        return outcomes, stop

    def _drop(self, worker: "_Worker") -> None:
        self._workers.remove(worker)
        worker.conn.close()

    def close(self) -> None:
        """Ends every worker: a worker that never ran a unit is killed (it has written
        nothing; it may still be importing), the others finish their unit first."""
        self._starting.join()
        for worker in self._workers:
            worker.close()
        self._workers.clear()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_units(
    units: list,
    workers: int,
    setup: Callable[[], None],
    run: Callable[[object], object],
    on_outcome: Callable[[int, Outcome], None] | None = None,
) -> tuple[list[Outcome | None], int | None]:
    """WorkerPool.run_units in a pool of `workers` (at most one a unit), closed after."""
    with WorkerPool(min(workers, len(units)), setup, run) as pool:
        return pool.run_units(units, on_outcome)


def _collect(busy: list[_Worker], outcomes: list[Outcome | None], wake: int) -> list[int]:
    """Waits until a busy worker reports or dies, or the launcher is signalled; files what the
    workers say; returns the indices of the units whose outcomes came."""
    by_handle = {w.conn: w for w in busy} | {w.process.sentinel: w for w in busy}
    came = []
    for handle in wait([*by_handle, wake]):
        if handle == wake:
            os.read(wake, 1)  # its one byte: the next wait waits again
            continue
        worker = by_handle[handle]
        if worker.task is None:  # its message and its exit arrived together
            continue
        try:
            status, value, error = worker.conn.recv()
            outcomes[worker.task] = Outcome(status, value, error)
        except (EOFError, OSError):  # it died
            worker.process.join()
            code = worker.process.exitcode
            # killed by Ctrl-C or SIGTERM (sent to it before it could note them): interrupted
            status = INTERRUPTED if code is not None and -code in STOPPING else LOST
            outcomes[worker.task] = Outcome(status, error=_death(code))
            if status == LOST:
                log.error("A worker process died: %s", outcomes[worker.task].error)
        came.append(worker.task)
        worker.task = None
    return came


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (the out-of-memory killer?)" if name == "SIGKILL" else ""
        return f"its worker process was killed by {name}{hint}"
    return f"its worker process died (exit status {code})"


# -- in the worker --------------------------------------------------------------------------
RESEND_AFTER = 3.0  # seconds a unit may run on after a signal before it is sent SIGINT again


class _State:
    stop_pending: ClassVar[list[int]] = []  # a signal that came between units (or start-up)
    running = False  # a unit runs
    signalled_at: float | None = None  # when the running unit was last signalled


def _note_stop(signum, frame) -> None:
    _State.stop_pending.append(signum)


def _between_units() -> None:
    """Between units a signal is noted, not raised: the next unit does not start."""
    signal.signal(signal.SIGINT, _note_stop)
    signal.signal(signal.SIGTERM, _note_stop)


def _interrupt(signum, frame) -> None:
    """In a unit: SIGINT raises KeyboardInterrupt, SIGTERM reglab.app.signals' Terminated."""
    from reglab.app import signals

    _State.signalled_at = time.monotonic()
    if signum == signal.SIGTERM:
        signals.on_sigterm(signum, frame)
        return
    signals.note_interrupt(signum)
    raise KeyboardInterrupt


def _watch() -> None:
    """A thread of the worker's:
    - a signal's KeyboardInterrupt raised where Python swallows it (a weakref callback, a
      `__del__`: "Exception ignored in ...") would leave the unit running with nothing left
      to stop it (its launcher passes one signal): while the unit runs on without having
      shielded its clean-up (SIGINT ignored, as Lightning and reglab do once they handle it),
      it is sent SIGINT again every RESEND_AFTER seconds;
    - a launcher that died (SIGKILL, a closed terminal's SIGHUP) leaves its workers to the
      init process: they stop their units as on SIGTERM (records, checkpoints) and exit."""
    parent = os.getppid()
    orphaned = False
    while True:
        time.sleep(0.25)
        if not orphaned and os.getppid() != parent:
            orphaned = True
            os.kill(os.getpid(), signal.SIGTERM)
        since = _State.signalled_at
        if (
            _State.running
            and since is not None
            and time.monotonic() - since > RESEND_AFTER
            and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        ):
            _State.signalled_at = time.monotonic()
            os.kill(os.getpid(), signal.SIGINT)


def _serve(conn: Connection, setup: Callable[[], None], run: Callable[[object], object]) -> None:
    os.setpgrp()  # the terminal's Ctrl-C goes to the launcher, which passes it on (once)
    _between_units()
    # started with SIGINT and SIGTERM blocked (run_units): one sent while Python started is
    # delivered now, to the handler that notes it
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING)
    from reglab.app import process_entry
    from reglab.app.closed_output import drop_output_once_closed

    drop_output_once_closed()  # the launcher's output, closed (`| head`): its units go on
    threading.Thread(target=_watch, daemon=True, name="reglab-worker-watch").start()
    process_entry.defer_collection()
    setup()
    while True:
        try:
            unit = conn.recv()
        except EOFError:  # the launcher is gone
            break
        if unit is None:
            break
        status, value, error = INTERRUPTED, None, None
        try:
            _State.running = True
            signal.signal(signal.SIGINT, _interrupt)
            signal.signal(signal.SIGTERM, _interrupt)
            if _State.stop_pending:  # (checked once the handlers raise: no signal falls between)
                _State.signalled_at = time.monotonic()
                raise KeyboardInterrupt
            value = run(unit)
            status = DONE
        except KeyboardInterrupt:  # before its jobs started, or after they were written
            pass
        except SystemExit as exc:  # a job that was interrupted exits 1 once it is written
            if exc.code in (0, None):
                status = DONE
        except Exception:  # (run_job and the pack record their jobs' own failures)
            status, error = FAILED, traceback.format_exc()
        finally:
            _between_units()
            _State.running = False
        if _State.signalled_at is not None:
            status = INTERRUPTED if status == DONE else status  # (it stops the sweep)
            _State.stop_pending.append(signal.SIGINT)
        try:
            conn.send((status, value, error))
        except (OSError, ValueError):  # the launcher is gone
            break
        except Exception:  # a value that does not pickle
            conn.send((FAILED, None, traceback.format_exc()))
        if status == INTERRUPTED or _State.stop_pending:
            break  # an interrupted worker takes no more units
    process_entry.exit_without_teardown()  # Python's teardown would only free memory (~1 s)
