"""Hand metrics to Lightning's consumers without `self.log`.

`LightningModule.log` costs about 1.5 ms a call here (Lightning moves its result holder
`.to(device)` every time): several times a whole full-batch step on the 1-D toy set. Values
published here go where Lightning puts logged metrics: the loggers (at Lightning's step for
epoch metrics unless `step` is given) and `trainer.callback_metrics`, which checkpointing,
early stopping and metrics.csv read.
"""

import lightning as L
import torch


def publish(
    trainer: L.Trainer,
    values: dict[str, torch.Tensor | float],
    prog_bar: tuple[str, ...] = (),
    step: int | None = None,
    callback_metrics: bool = True,
) -> None:
    if trainer.sanity_checking or not values:
        return
    values = {k: torch.as_tensor(v).detach().float().cpu() for k, v in values.items()}
    if callback_metrics:
        trainer.callback_metrics.update(values)
    trainer.progress_bar_metrics.update({k: values[k] for k in prog_bar if k in values})
    trainer._logger_connector.log_metrics(values, step=step)
