"""The test set's loss and accuracy after every epoch, as a curve (`test_curve/loss`,
`test_curve/acc` in metrics.csv): what the notes plot next to the validation curve.

Logging only: nothing selects on these numbers (checkpoints and early stopping watch the
validation split; the final `test/*` in metrics.json is still the chosen checkpoint's). Where
the validation split already is the test set (the generated data sets: `val/*`; protocol=d2l:
`test/*`) those columns are this curve, and the callback does nothing.
"""

import lightning as L
import torch


class TestCurve(L.Callback):
    @torch.no_grad()
    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        dm = trainer.datamodule
        if trainer.sanity_checking or dm is None or dm.info.val_is_test:
            return
        net, task = pl_module.net, pl_module.task
        x_all, y_all = dm.splits.x_test, dm.splits.y_test
        loss_sum, correct = torch.zeros(()), torch.zeros(())
        for start in range(0, len(y_all), dm.eval_batch_size):
            x = dm.prepare_inputs(x_all[start : start + dm.eval_batch_size].clone())
            y = y_all[start : start + dm.eval_batch_size]
            outputs = net(x)  # the validation loop has put the net in eval mode
            loss_sum += task.loss(outputs, y).cpu() * len(y)
            if task.name == "classification":
                correct += (outputs.argmax(1) == y).sum().cpu()
        n = len(y_all)
        values = {"test_curve/loss": loss_sum / n}
        if task.name == "classification":
            values["test_curve/acc"] = correct / n
        # epoch values for metrics.csv only: not the loggers' test/* keys, not a monitor
        trainer.callback_metrics.update(values)
