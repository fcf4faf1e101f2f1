"""Per-replica data order: replica k gets exactly the batches a single run with seed=k gets.

A single run's training loader (`TensorBatchLoader`) draws each epoch's order from
`EpochPermutation(n, seed, shuffle)`, which depends on (seed, epoch) only. Here each replica
has its own `EpochPermutation`, and a step gathers one batch per replica: inputs (N, B, ...).
Every replica has the same number of samples, so batch sizes match across replicas (the last
partial batch included).
"""

from collections.abc import Iterator

import torch

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
