"""Callbacks the tests inject with `+callbacks.<name>._target_=tests.helpers.<Class>`."""

import os
import signal
from pathlib import Path

import lightning as L


class KillAt(L.Callback):
    """Sends `signal` to its own process at the start of epoch `epoch` (0-based: epoch=2 is
    after the second epoch's checkpoint), once: the marker file keeps a resumed run alive."""

    def __init__(self, epoch: int, marker: str, signal: str = "SIGKILL", target: str = "self"):
        self.epoch, self.marker, self.signal = epoch, Path(marker), signal
        self.target = target  # "parent": the launcher that started this worker process

    def _first(self) -> bool:
        """Made the marker (atomically: of two processes at this epoch, one kills)."""
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch and self._first():
            if self.target == "parent":
                os.kill(os.getppid(), getattr(signal, self.signal))
                return
            if self.signal == "SIGINT":
                # Ctrl-C as from a terminal, even when the parent process ignored SIGINT
                # (children inherit SIG_IGN, e.g. after Lightning handled a KeyboardInterrupt
                # in the pytest process)
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), getattr(signal, self.signal))


def poison_replica(monkeypatch, epoch: int, replica: int = 1) -> None:
    """In a seeds=N run, replica `replica`'s inputs turn NaN in epoch `epoch` (0-based): it
    diverges there, the others go on."""
    from reglab.replicas.batches import ReplicaBatches

    epoch_batches = ReplicaBatches.epoch

    def poisoned(self, current):
        for x, y in epoch_batches(self, current):
            if current == epoch:
                x = x.clone()
                x[replica] = float("nan")
            yield x, y

    monkeypatch.setattr(ReplicaBatches, "epoch", poisoned)
