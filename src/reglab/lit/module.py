"""RegLabModule: one LightningModule for every model, task and regularizer."""

from collections.abc import Callable, Iterable

import lightning as L
import torch
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, MinMetric

from reglab.lit.tasks import Task
from reglab.regularizers import Regularization

OptimizerFactory = Callable[[Iterable], torch.optim.Optimizer]
STAGES = ("train", "val", "test")


class RegLabModule(L.LightningModule):
    """Trains `net` on `task`, with the regularization's penalty and parameter groups.

    Logged per epoch: train/loss (data loss), train/penalty (the explicit term), the task's
    metrics for train/val/test (e.g. train/acc), val/loss, and val/<monitor>_best.
    """

    def __init__(
        self,
        net: nn.Module,
        task: Task,
        regularization: Regularization,
        optimizer: OptimizerFactory,
    ):
        super().__init__()
        self.net = net
        self.task = task
        self.regularization = regularization
        self.optimizer_factory = optimizer
        # ModuleDict keys cannot be "train" (nn.Module.train exists): hence the suffix.
        self._metrics = nn.ModuleDict(
            {f"{stage}_": nn.ModuleDict(task.metrics()) for stage in STAGES}
        )
        # nan_strategy="disable": a NaN loss must show in the epoch mean, and skipping the
        # per-step NaN scan saves time.
        self._losses = nn.ModuleDict(
            {f"{stage}_": MeanMetric(nan_strategy="disable") for stage in STAGES}
        )
        self.train_penalty = MeanMetric(nan_strategy="disable")
        self.best_metric = MaxMetric() if task.mode == "max" else MinMetric()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _evaluate(self, stage: str, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        outputs = self.net(x)
        loss = self.task.loss(outputs, y)
        self._losses[f"{stage}_"].update(loss.detach(), weight=len(y))
        metrics = self._metrics[f"{stage}_"]
        for metric in metrics.values():
            metric.update(outputs.detach(), y)
        if batch_idx == 0:
            self._register_epoch_metrics(stage)
        return loss

    def _register_epoch_metrics(self, stage: str) -> None:
        """Logs the stage's metric objects once per epoch.

        Lightning computes a logged Metric from its state at epoch end (and syncs it across
        ranks), so updates after this call still count. Calling `self.log` every step costs
        about 0.6 ms on a 2-core CPU, a quarter of a small MLP's step.
        """
        self.log(f"{stage}/loss", self._losses[f"{stage}_"], on_step=False, on_epoch=True)
        for name, metric in self._metrics[f"{stage}_"].items():
            self.log(f"{stage}/{name}", metric, on_step=False, on_epoch=True)
        if stage == "train" and self.regularization.has_penalty:
            self.log("train/penalty", self.train_penalty, on_step=False, on_epoch=True)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss = self._evaluate("train", batch, batch_idx)
        if self.regularization.has_penalty:
            penalty = self.regularization.penalty(self.net)
            loss = loss + penalty
            self.train_penalty.update(penalty.detach())
        return loss

    def on_train_epoch_start(self) -> None:
        # Without a penalty, log its zero once per epoch (not per step: it costs nothing then).
        if not self.regularization.has_penalty:
            self.log("train/penalty", 0.0, on_step=False, on_epoch=True)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate("val", batch, batch_idx)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        # Read the metric object itself: Lightning publishes epoch values after this hook.
        stage, name = self.task.monitor.split("/", 1)
        metric = self._losses[f"{stage}_"] if name == "loss" else self._metrics[f"{stage}_"][name]
        self.best_metric.update(metric.compute())
        self.log(f"{self.task.monitor}_best", self.best_metric.compute(), prog_bar=True)

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate("test", batch, batch_idx)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.regularization.parameter_groups(self.net))
