"""Batches sliced from in-memory tensors: the fast path for small data sets.

A `torch.utils.data.DataLoader` calls `Dataset.__getitem__` once per sample and collates;
for data sets that fit in memory that costs more than the model. Here the whole split is a
uint8 tensor (on the training device), an epoch is one permutation, and a batch is one
gather. `scripts/bench_epoch.py` measures the difference.
"""

from collections.abc import Iterator

import torch


class EpochPermutation:
    """Seeded order of one epoch; Lightning calls `set_epoch` like on a DistributedSampler."""

    def __init__(self, num_samples: int, seed: int, shuffle: bool):
        self.num_samples = num_samples
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self, device: torch.device) -> torch.Tensor | None:
        """The epoch's order, or None for the natural order (no shuffling)."""
        if not self.shuffle:
            return None
        # The order depends on (seed, epoch) only, so a resumed run sees the same batches.
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.num_samples, generator=generator).to(device)


class TensorBatchLoader:
    """Iterable of (inputs, targets) batches cut from tensors that share their first dimension."""

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
        batches_per_item: int = 1,
        rank: int = 0,
        world_size: int = 1,
    ):
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
        self.inputs = inputs
        self.targets = targets
        self.batch_size = batch_size
        self.drop_last = drop_last
        # >1: each item is a list of that many batches, for one fused Lightning step.
        self.batches_per_item = batches_per_item
        self.sampler = EpochPermutation(len(inputs), seed, shuffle)
        # DDP: every rank draws the same epoch order and takes its share of each global batch,
        # so a step of W ranks sees the samples one process would see in that step.
        if batch_size % world_size:
            raise ValueError(
                f"dataset.batch_size={batch_size} is the global batch: it must divide evenly "
                f"among the {world_size} processes (e.g. {batch_size - batch_size % world_size})"
            )
        self.rank, self.world_size = rank, world_size
        self.batch_sampler = None  # read by Lightning's DataLoader checks

    @property
    def num_batches(self) -> int:
        n = len(self.inputs)
        full, rest = divmod(n, self.batch_size)
        # a last batch too small to give every rank a sample is dropped (DDP needs all to step)
        keep_rest = rest and not self.drop_last and rest >= self.world_size
        return full + bool(keep_rest)

    def __len__(self) -> int:
        return -(-self.num_batches // self.batches_per_item)

    def __iter__(self):
        if self.batches_per_item == 1:
            yield from self._batches()
            return
        batches = list(self._batches())
        for i in range(0, len(batches), self.batches_per_item):
            yield batches[i : i + self.batches_per_item]

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.sampler.indices(self.inputs.device)
        for i in range(self.num_batches):
            start = i * self.batch_size
            if order is None and self.world_size == 1:
                end = start + self.batch_size
                yield self.inputs[start:end], self.targets[start:end]
                continue
            if order is None:
                idx = torch.arange(start, min(start + self.batch_size, len(self.inputs)))
                idx = idx.to(self.inputs.device)
            else:
                idx = order[start : start + self.batch_size]
            if self.world_size > 1:
                idx = idx.tensor_split(self.world_size)[self.rank]
            yield self.inputs[idx], self.targets[idx]
