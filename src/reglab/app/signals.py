"""SIGTERM (what SLURM, Kubernetes and `kill` send) is handled as Ctrl-C, everywhere.

Python turns SIGINT into KeyboardInterrupt; SIGTERM's default is to die on the spot, leaving
no record and no checkpoint. `install()` (called once by the command line, before anything
is imported or composed) makes SIGTERM raise `Terminated`, a KeyboardInterrupt, so every path
that handles Ctrl-C handles it the same way: during start-up (one line, exit 1, an
`interrupted` record where a run folder exists), inside Lightning's fit (it catches
KeyboardInterrupt: on_exception.ckpt, `interrupted`, exit 1; its own signal connector calls
this handler after its notifier) and in the `seeds=N` loop (each replica's last.ckpt and
record). Only the first SIGTERM interrupts: another one during the clean-up is ignored, so
the record is written whole (a scheduler that is in a hurry sends SIGKILL).

Torch-free.
"""

import contextlib
import logging
import signal
import threading

log = logging.getLogger("reglab")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process was, as Ctrl-C raises KeyboardInterrupt."""


_received: list[int] = []  # the SIGTERMs seen so far (one interrupts; later ones are ignored)


def on_sigterm(signum, frame) -> None:
    if _received:
        log.warning("SIGTERM again: ignored while the interrupted run writes its records")
        return
    _received.append(signum)
    raise Terminated("SIGTERM")


def install() -> None:
    """SIGTERM raises Terminated from now on (main thread only: a handler can be set there)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)


_interrupts: list[int] = []  # Ctrl-Cs noted by a handler that knows of them (a worker's)


def note_interrupt(signum: int) -> None:
    """A SIGINT came (reglab.app.worker_pool's handler notes it before raising)."""
    _interrupts.append(signum)


def interrupted() -> bool:
    """A SIGTERM, or a noted SIGINT, came: an exception that surfaces now may be the
    KeyboardInterrupt that a library's clean-up turned into another (OmegaConf's, when one
    lands while it builds a node)."""
    return bool(_received or _interrupts)


@contextlib.contextmanager
def interruption_kept():
    """An exception that leaves the block after an interruption (`interrupted()`) leaves it
    as the KeyboardInterrupt it stands for, so it is recorded as one, not as a failure."""
    try:
        yield
    except Exception as exc:
        if interrupted():
            raise KeyboardInterrupt from exc
        raise


def describe(exc: BaseException) -> str:
    """How the run was stopped, for its messages: 'SIGTERM' or 'Ctrl-C'."""
    return "SIGTERM" if isinstance(exc, Terminated) or _received else "Ctrl-C"


def shield() -> None:
    """A second Ctrl-C while the interrupted run writes its checkpoints and records is
    ignored (Lightning does the same on its Ctrl-C path)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
