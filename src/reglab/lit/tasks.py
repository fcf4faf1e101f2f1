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
    # The per-epoch metric that picks the best checkpoint (its name within the stage), and
    # whether higher is better.
    metric: str
    mode: Literal["min", "max"]
    # where the per-epoch evaluation's keys live: val/, or test/ under protocol=d2l
    # (DataInfo.epoch_stage): every key and monitor of that evaluation follows it
    epoch_stage: str = "val"

    @property
    def monitor(self) -> str:
        """e.g. val/acc; test/acc where the test set is evaluated every epoch."""
        return f"{self.epoch_stage}/{self.metric}"

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def replica_losses(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
        """Stacked replicas' losses, (N, B, ...) outputs and targets -> (N,): the numbers (and
        gradients) `vmap(self.loss)` gives, bit for bit, without vmap's cost per call (~0.1
        ms, what a tiny model's whole step costs); None where the task has no such form (the
        replicas then take vmap's)."""
        return None

    def metrics(self) -> dict[str, Metric]:
        """Fresh metric objects keyed by their short name (e.g. 'acc')."""
        return {}


@dataclass(frozen=True, kw_only=True)
class Classification(Task):
    num_classes: int = 2
    name: str = "classification"
    metric: str = "acc"
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
    metric: str = "loss"
    mode: Literal["min", "max"] = "min"

    def loss(self, outputs, targets):
        return F.mse_loss(outputs, targets)

    def replica_losses(self, outputs, targets):
        if outputs.shape != targets.shape:  # mse_loss would broadcast them per replica
            return None
        # what vmap's batching rule of mse_loss computes: unreduced, then each replica's mean
        return F.mse_loss(outputs, targets, reduction="none").flatten(1).mean(-1)


def task_for(info: DataInfo) -> Task:
    if info.task == "classification":
        return Classification(num_classes=info.num_outputs, epoch_stage=info.epoch_stage)
    if info.task == "regression":
        return Regression(epoch_stage=info.epoch_stage)
    raise ValueError(f"no task for {info.task!r}")
