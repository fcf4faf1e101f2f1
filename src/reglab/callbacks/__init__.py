"""Lightning callbacks (config group `callbacks`) and how they are built from the config."""

import inspect

import lightning as L
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig

from reglab.callbacks.epoch_metrics import EpochMetricsWriter
from reglab.lit.tasks import Task


def build_callbacks(nodes: DictConfig | None, task: Task) -> list[L.Callback]:
    """Instantiates each callback; those that take `monitor`/`mode` get the task's by default."""
    callbacks = []
    for node in (nodes or {}).values():
        if node is None:  # `callbacks.progress_bar=null` switches one off
            continue
        params = inspect.signature(get_class(node._target_)).parameters
        extra = {}
        if "monitor" in params and node.get("monitor") is None:
            extra["monitor"] = task.monitor
            if "mode" in params:
                extra["mode"] = task.mode
        callbacks.append(instantiate(node, **extra))
    return callbacks


__all__ = ["EpochMetricsWriter", "build_callbacks"]
