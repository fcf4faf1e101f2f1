"""Per-replica data order: replica k gets exactly the batches a single run with seed=k gets.

A single run's training loader (`TensorBatchLoader`) draws each epoch's order from
`EpochPermutation(n, seed, shuffle)`, which depends on (seed, epoch) only. Here each replica
has its own `EpochPermutation`, and a step gathers one batch per replica: inputs (N, B, ...).
Every replica has the same number of samples, so batch sizes match across replicas (the last
partial batch included).
"""

from collections.abc import Iterator

import torch

from reglab.config.errors import ConfigError
from reglab.data.loader import EpochPermutation


class ReplicaBatches:
    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int | None,
        seeds: list[int],
        shuffle: bool = True,
    ):
        self.inputs, self.targets = inputs, targets
        n = len(inputs)
        self.batch_size = batch_size or n  # null = the whole training set in one batch
        self.orders = [EpochPermutation(n, seed, shuffle) for seed in seeds]

    @property
    def num_batches(self) -> int:
        return -(-len(self.inputs) // self.batch_size)

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches: (N, B, ...) inputs and (N, B, ...) targets."""
        device = self.inputs.device
        for order in self.orders:
            order.set_epoch(epoch)
        orders = [o.indices(device) for o in self.orders]
        if orders[0] is None:  # no shuffling: every replica sees the natural order
            n = len(self.inputs)
            orders = [torch.arange(n, device=device)] * len(self.orders)
        order = torch.stack(orders)  # (N, n)
        for start in range(0, order.shape[1], self.batch_size):
            idx = order[:, start : start + self.batch_size]
            flat = idx.reshape(-1)
            x = self.inputs[flat].view(*idx.shape, *self.inputs.shape[1:])
            y = self.targets[flat].view(*idx.shape, *self.targets.shape[1:])
            yield x, y


def limited_batches(num_batches: int, limit: int | float | None, stage: str) -> int:
    """How many of an epoch's `num_batches` minibatches Lightning runs under
    `trainer.limit_<stage>_batches` (its rule: an int caps the count, a float is a fraction,
    rounded down); None runs them all."""
    if limit is None or num_batches == 0:
        return num_batches
    if isinstance(limit, bool) or not isinstance(limit, int | float):
        raise ConfigError(f"trainer.limit_{stage}_batches={limit!r}: an int or a float")
    if isinstance(limit, int):
        return min(num_batches, limit)
    count = int(num_batches * limit)
    if count == 0 and limit > 0:  # Lightning's own refusal of a single run, in one line
        raise ConfigError(
            f"trainer.limit_{stage}_batches={limit} of {num_batches} batches is less than one "
            f"batch. Fix: trainer.limit_{stage}_batches={1 / num_batches:.4g} or more"
        )
    return count
