"""Validation and test of all replicas at once: each split is read once, every replica
evaluates every batch, and the loss (averaged over samples) and accuracy come out per replica.
`trainer.limit_val_batches` / `limit_test_batches` read the first batches, as Lightning's
loops read a single run's (its evaluation loaders are not shuffled)."""

from collections.abc import Callable

import torch
from torch.func import vmap

from reglab.data.base import Splits
from reglab.lit.tasks import Task
from reglab.replicas.batches import limited_batches
from reglab.replicas.stack import StackedNet


def replica_evaluation(
    stacked: StackedNet,
    task: Task,
    splits: Splits,
    batch_size: int,
    prepare: Callable[[torch.Tensor], torch.Tensor],
    limits: dict[str, int | float | None] | None = None,
) -> Callable[..., dict[str, torch.Tensor]]:
    """evaluate(stage, params, buffers, predictions) -> {'<stage>/loss': (N,), '<stage>/acc':
    (N,)} with `params` and `buffers` (stacked; None = the current weights and running
    statistics); with `predictions`, also {'preds': (N, samples)}: each replica's predicted
    class of each sample evaluated. `limits`: trainer.limit_<stage>_batches by stage."""
    loss_of = vmap(task.loss, in_dims=(0, None))
    data = {"val": (splits.x_val, splits.y_val), "test": (splits.x_test, splits.y_test)}

    @torch.no_grad()
    def evaluate(
        stage: str,
        params: dict | None = None,
        buffers: dict | None = None,
        predictions: bool = False,
    ) -> dict[str, torch.Tensor]:
        inputs, targets = data[stage]
        batches = limited_batches(-(-len(inputs) // batch_size), (limits or {}).get(stage), stage)
        seen = min(len(inputs), batches * batch_size)
        loss_sum, correct, preds = 0.0, 0.0, []
        for start in range(0, seen, batch_size):
            x = prepare(inputs[start : start + batch_size])
            y = targets[start : start + batch_size]
            outputs = stacked.forward_eval(x, params, buffers)
            loss_sum = loss_sum + loss_of(outputs, y) * len(y)
            if task.name == "classification":
                predicted = outputs.argmax(-1)
                correct = correct + (predicted == y).sum(1)
                if predictions:
                    preds.append(predicted)
        values = {f"{stage}/loss": loss_sum / seen}
        if task.name == "classification":
            values[f"{stage}/acc"] = correct / seen
            if predictions:
                values["preds"] = torch.cat(preds, dim=1)
        return values

    return evaluate
