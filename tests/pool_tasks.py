"""Units for tests/test_worker_pool.py: module-level, so spawned workers can unpickle them."""

import os
import signal
import time
from pathlib import Path

_SET_UP: list[str] = []


def setup(tag: str) -> None:
    _SET_UP.append(tag)


def report(unit: str) -> tuple[str, int, list[str]]:
    """The unit, this worker's pid and what its setup was given."""
    if unit == "raise":
        raise ValueError("a unit that raises")
    if unit == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if unit == "unpicklable":
        return lambda: None  # (its outcome cannot be sent)
    time.sleep(0.05)
    return unit, os.getpid(), list(_SET_UP)


def wait_for_signal(folder: str, unit: str) -> str:
    """Sleeps until interrupted, notes which signal came (and how many), and exits 1 as an
    interrupted job does; a unit that is never interrupted returns after 20 s."""
    from reglab.app import signals

    Path(folder, f"{unit}.started").touch()
    try:
        time.sleep(20)
    except KeyboardInterrupt as exc:
        Path(folder, f"{unit}.stopped").write_text(signals.describe(exc))
        signals.shield()
        time.sleep(0.5)  # its clean-up: a second signal now must not reach it
        Path(folder, f"{unit}.cleaned").touch()
        raise SystemExit(1) from None
    return unit


def interrupt_self_when_others_run(folder: str, unit: str) -> str:
    """Unit "self" waits until unit "w1" runs, then sends itself SIGINT (a worker stopped on
    its own); the others wait for a signal."""
    if unit != "self":
        return wait_for_signal(folder, unit)
    deadline = time.time() + 20
    while not Path(folder, "w1.started").exists() and time.time() < deadline:
        time.sleep(0.01)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(20)
    except KeyboardInterrupt:
        raise SystemExit(1) from None
    return unit


def interrupt_own_start_up() -> None:
    """A setup that gets Ctrl-C (as one sent while the worker starts)."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.1)


def swallow_the_first_interrupt(folder: str, unit: str) -> str:
    """As a KeyboardInterrupt raised in a weakref callback is swallowed: the first is lost,
    the unit runs on; a second one stops it."""
    Path(folder, f"{unit}.started").touch()
    try:
        time.sleep(20)
    except KeyboardInterrupt:
        Path(folder, f"{unit}.swallowed").touch()
    try:
        time.sleep(20)
    except KeyboardInterrupt:
        Path(folder, f"{unit}.stopped").touch()
        raise SystemExit(1) from None
    return unit
