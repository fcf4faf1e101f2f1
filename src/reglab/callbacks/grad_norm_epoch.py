"""The gradient norm as an epoch curve in metrics.csv: `train/grad_norm_mean` and
`train/grad_norm_max` (L2 norm of all gradients, over the epoch's optimizer steps).

The `grad_norm` instrument sends a step-level series to the loggers only; with `logger=csv`
there is none. This one keeps an on-disk curve, so a report can say whether a run's gradients
"explode" (the d2l dropout exercise at lr 0.1) without a W&B server.

Per replica under `seeds=N` (reglab.callbacks.networks): the norms are (N,) tensors.
"""

import lightning as L
import torch

from reglab.callbacks.networks import global_norms, networks


class EpochGradNorm(L.Callback):
    def __init__(self):
        self._sum: torch.Tensor | None = None
        self._max: torch.Tensor | None = None
        self._steps = 0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._sum = self._max = None
        self._steps = 0

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        grads = networks(trainer, pl_module).gradients()
        if not grads:
            return
        norm = global_norms(grads)  # (N,)
        # running tensors, no .item(): no device sync per step
        self._sum = norm if self._sum is None else self._sum + norm
        self._max = norm if self._max is None else self._max.maximum(norm)
        self._steps += 1

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._steps:
            networks(trainer, pl_module).publish(
                {"train/grad_norm_mean": self._sum / self._steps, "train/grad_norm_max": self._max}
            )
