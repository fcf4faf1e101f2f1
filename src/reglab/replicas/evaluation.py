"""Validation and test of all replicas at once: each split is read once, every replica
evaluates every batch, and the loss (averaged over samples) and accuracy come out per replica."""

from collections.abc import Callable

import torch
from torch.func import vmap

from reglab.data.base import Splits
from reglab.lit.tasks import Task
from reglab.replicas.stack import StackedNet


def replica_evaluation(
    stacked: StackedNet,
    task: Task,
    splits: Splits,
    batch_size: int,
    prepare: Callable[[torch.Tensor], torch.Tensor],
) -> Callable[..., dict[str, torch.Tensor]]:
    """evaluate(stage, params, buffers) -> {'<stage>/loss': (N,), '<stage>/acc': (N,)} with
    `params` and `buffers` (stacked; None = the current weights and running statistics)."""
    loss_of = vmap(task.loss, in_dims=(0, None))
    data = {"val": (splits.x_val, splits.y_val), "test": (splits.x_test, splits.y_test)}

    @torch.no_grad()
    def evaluate(
        stage: str, params: dict | None = None, buffers: dict | None = None
    ) -> dict[str, torch.Tensor]:
        inputs, targets = data[stage]
        loss_sum, correct = 0.0, 0.0
        for start in range(0, len(inputs), batch_size):
            x = prepare(inputs[start : start + batch_size])
            y = targets[start : start + batch_size]
            outputs = stacked.forward_eval(x, params, buffers)
            loss_sum = loss_sum + loss_of(outputs, y) * len(y)
            if task.name == "classification":
                correct = correct + (outputs.argmax(-1) == y).sum(1)
        values = {f"{stage}/loss": loss_sum / len(inputs)}
        if task.name == "classification":
            values[f"{stage}/acc"] = correct / len(inputs)
        return values

    return evaluate
