"""Lightning callbacks (config group `callbacks`) and how they are built from the config."""

import inspect

import lightning as L
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import ModelCheckpoint

from reglab import contract
from reglab.callbacks.epoch_metrics import EpochMetricsWriter
from reglab.lit.tasks import Task


def build_callbacks(entries: dict, task: Task, val_is_test: bool = False) -> list[L.Callback]:
    """Instantiates each callback (`entries`: the typed entries of the `callbacks` node, by
    name; reglab.app.outputs_config); those that take `monitor`/`mode` get the task's by
    default.

    Where the validation split is the test split (d2l's and the course's regression sets),
    picking a "best" checkpoint would select on test data: checkpoints keep only last.ckpt.
    """
    callbacks = []
    for entry in entries.values():
        if entry is None:  # `callbacks.progress_bar=null` switches one off
            continue
        cls = get_class(entry.target)
        node = {"_target_": entry.target, **entry.arguments()}
        params = inspect.signature(cls).parameters
        extra = {}
        monitor = entry.monitored()
        if issubclass(cls, ModelCheckpoint) and node.get("filename") == contract.LAST:
            # Unmonitored top-1 keeps the most recent epoch. (Lightning's save_last writes
            # last.ckpt only when a monitored top-k save happens, i.e. when the best improves.)
            callbacks.append(instantiate(node))
            continue
        if issubclass(cls, ModelCheckpoint) and val_is_test and monitor is None:
            continue  # a "best" checkpoint would be chosen on test data: last.ckpt only
        if "monitor" in params and monitor is None:
            extra["monitor"] = task.monitor
            if "mode" in params:
                extra["mode"] = task.mode
        callbacks.append(instantiate(node, **extra))
    return callbacks


__all__ = ["EpochMetricsWriter", "build_callbacks"]
