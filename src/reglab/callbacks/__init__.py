"""Lightning callbacks (config group `callbacks`) and how they are built from the config."""

import inspect

import lightning as L
from hydra.utils import get_class, instantiate
from lightning.pytorch.callbacks import ModelCheckpoint

from reglab import contract
from reglab.callbacks.epoch_metrics import EpochMetricsWriter
from reglab.config.errors import ConfigError
from reglab.lit.tasks import Task


def build_callbacks(entries: dict, task: Task, val_is_test: bool = False) -> list[L.Callback]:
    """Instantiates each callback (`entries`: the typed entries of the `callbacks` node, by
    name; reglab.app.outputs_config); those that take `monitor`/`mode` get the task's by
    default.

    Where the validation split is the test split (d2l's and the course's regression sets),
    picking a "best" checkpoint would select on test data: checkpoints keep only last.ckpt.
    """
    callbacks = []
    for name, entry in entries.items():
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
            callbacks.append(_built(name, node))
            continue
        if issubclass(cls, ModelCheckpoint) and val_is_test and monitor is None:
            continue  # a "best" checkpoint would be chosen on test data: last.ckpt only
        if "monitor" in params and monitor is None:
            extra["monitor"] = task.monitor
            if "mode" in params and node.get("mode") is None:  # a mode given is kept
                extra["mode"] = task.mode
        callbacks.append(_built(name, node, **extra))
    return callbacks


def _built(name: str, node: dict, **extra) -> L.Callback:
    """The callback, or one line naming its key and what its class refused (an option's
    value: `mode=foo`), instead of Hydra's instantiation trace."""
    try:
        return instantiate(node, **extra)
    except Exception as exc:
        cause = exc.__cause__ or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise ConfigError(
            f"callbacks.{name} ({node['_target_']}) refused its options: {reason}. Fix the "
            f"option it names (callbacks.{name}.<option>=...)"
        ) from None


__all__ = ["EpochMetricsWriter", "build_callbacks"]
