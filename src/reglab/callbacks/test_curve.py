"""The test set's loss and accuracy after every epoch, as a curve (`test_curve/loss`,
`test_curve/acc` in metrics.csv): what the notes plot next to the validation curve.

Logging only: nothing selects on these numbers (checkpoints and early stopping watch the
validation split; the final `test/*` in metrics.json is still the chosen checkpoint's). Where
the validation split already is the test set (the generated data sets: `val/*`; protocol=d2l:
`test/*`) those columns are this curve, and the callback does nothing.

Per replica under `seeds=N` (reglab.callbacks.networks): every replica evaluates each test
batch with its own weights; loss and accuracy are (N,) tensors.
"""

import lightning as L
import torch
from torch.func import vmap

from reglab.callbacks.networks import networks


class TestCurve(L.Callback):
    @torch.no_grad()
    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        nets = networks(trainer, pl_module)
        dm = nets.data
        if trainer.sanity_checking or dm is None or dm.info.val_is_test:
            return
        task = nets.task
        loss_of = vmap(task.loss, in_dims=(0, None))  # (N, B, outputs) -> (N,)
        x_all, y_all = dm.splits.x_test, dm.splits.y_test
        loss_sum = torch.zeros(nets.num_replicas)
        correct = torch.zeros(nets.num_replicas)
        for start in range(0, len(y_all), dm.eval_batch_size):
            x = dm.prepare_inputs(x_all[start : start + dm.eval_batch_size].clone())
            y = y_all[start : start + dm.eval_batch_size]
            outputs = nets.outputs(x)  # in evaluation mode, each replica its own weights
            loss_sum += loss_of(outputs, y).float().cpu() * len(y)
            if task.name == "classification":
                correct += (outputs.argmax(-1) == y).sum(-1).cpu()
        n = len(y_all)
        values = {"test_curve/loss": loss_sum / n}
        if task.name == "classification":
            values["test_curve/acc"] = correct / n
        # epoch values for metrics.csv only: not the loggers' test/* keys, not a monitor
        nets.publish(values, loggers=False)
