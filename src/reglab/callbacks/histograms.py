"""Weight and gradient histograms per layer at a chosen interval (the course's TensorBoard
histograms): to W&B as histograms and, with `logger=tensorboard`, to TensorBoard.

Gradients are those of the first optimizer step of each logged epoch.
"""

import lightning as L
import torch
from lightning.pytorch.loggers import WandbLogger

from reglab.callbacks.norms import weight_layers


class Histograms(L.Callback):
    def __init__(self, every_n_epochs: int = 1, gradients: bool = True):
        self.every_n_epochs = max(1, every_n_epochs)
        self.gradients = gradients
        self._grads: dict[str, torch.Tensor] = {}
        self._grads_epoch = -1

    def _due(self, trainer) -> bool:
        return (trainer.current_epoch + 1) % self.every_n_epochs == 0 and bool(trainer.loggers)

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if (
            not self.gradients
            or not self._due(trainer)
            or self._grads_epoch == trainer.current_epoch
        ):
            return
        net = getattr(pl_module, "net", pl_module)
        self._grads = {
            name: layer.weight.grad.detach().flatten().cpu().clone()
            for name, layer in weight_layers(net).items()
            if layer.weight.grad is not None
        }
        self._grads_epoch = trainer.current_epoch

    @torch.no_grad()
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not self._due(trainer) or not trainer.is_global_zero:
            return
        net = getattr(pl_module, "net", pl_module)
        series = {
            f"hist/weights/{name}": layer.weight.detach().flatten().cpu()
            for name, layer in weight_layers(net).items()
        }
        if self._grads_epoch == trainer.current_epoch:
            series.update({f"hist/grads/{name}": g for name, g in self._grads.items()})
        for logger in trainer.loggers:
            _log_histograms(logger, series, trainer.global_step)


def _log_histograms(logger, series: dict[str, torch.Tensor], step: int) -> None:
    experiment = logger.experiment
    if hasattr(experiment, "add_histogram"):  # TensorBoard SummaryWriter
        for tag, values in series.items():
            experiment.add_histogram(tag, values, global_step=step)
    elif isinstance(logger, WandbLogger):  # reglab's subclass too
        import wandb

        experiment.log(
            {tag: wandb.Histogram(values.numpy()) for tag, values in series.items()}
            | {"trainer/global_step": step}
        )
