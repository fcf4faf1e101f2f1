"""checkpoints/on_exception.ckpt when a run stops on an exception, Ctrl-C included.

Not Lightning's OnExceptionCheckpoint: with it among the callbacks, Lightning turns
`fit(ckpt_path=None)` into `ckpt_path="last"` and silently continues from whatever last.ckpt
the folder holds. Resuming is reglab's explicit `resume=true`.
"""

import logging
from pathlib import Path

import lightning as L

from reglab import contract
from reglab.outputs.writable import disk_error
from reglab.run_folder import checkpoint_name

log = logging.getLogger("reglab")


class ExceptionCheckpoint(L.Callback):
    def __init__(self, dirpath: str | Path, filename: str = contract.ON_EXCEPTION):
        self.path = Path(dirpath) / checkpoint_name(filename)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        try:
            trainer.save_checkpoint(self.path)
        except Exception as exc:  # e.g. the disk is full: keep the original error in view
            if disk_error(exc) is not None:  # the run's own error says so, once
                log.debug("Could not save %s: %s", self.path, exc)
                return
            log.warning("Could not save %s: %s", self.path, exc)
