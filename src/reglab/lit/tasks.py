"""Tasks: what loss and metrics a data set calls for. The data set chooses, not the user."""

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy

from reglab.data.base import DataInfo


@dataclass(frozen=True)
class Task:
    name: str
    # The validation metric that picks the best checkpoint, and whether higher is better.
    monitor: str
    mode: Literal["min", "max"]

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def metrics(self) -> dict[str, Metric]:
        """Fresh metric objects keyed by their short name (e.g. 'acc')."""
        return {}


@dataclass(frozen=True, kw_only=True)
class Classification(Task):
    num_classes: int = 2
    name: str = "classification"
    monitor: str = "val/acc"
    mode: Literal["min", "max"] = "max"

    def loss(self, outputs, targets):
        return F.cross_entropy(outputs, targets)

    def metrics(self):
        # validate_args=False: the inputs are ours, and the checks cost more than the update.
        return {"acc": MulticlassAccuracy(self.num_classes, average="micro", validate_args=False)}


@dataclass(frozen=True, kw_only=True)
class Regression(Task):
    """Mean squared error; the best checkpoint has the lowest validation loss."""

    name: str = "regression"
    monitor: str = "val/loss"
    mode: Literal["min", "max"] = "min"

    def loss(self, outputs, targets):
        return F.mse_loss(outputs, targets)


def task_for(info: DataInfo) -> Task:
    if info.task == "classification":
        return Classification(num_classes=info.num_outputs)
    if info.task == "regression":
        return Regression()
    raise ValueError(f"no task for {info.task!r}")
