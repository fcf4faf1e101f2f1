"""debug=overfit: the same training batches every epoch (reglab's loader, like Lightning's
DataLoader under overfit_batches, must not reshuffle them)."""

from types import SimpleNamespace

import torch

from reglab.data.build import build_datamodule

from .test_data import config


def _first_batch_of_epochs(dm, epochs: int) -> list[torch.Tensor]:
    firsts = []
    for epoch in range(epochs):
        loader = dm.train_dataloader()
        loader.sampler.set_epoch(epoch)
        firsts.append(next(iter(loader))[1])
    return firsts


def test_overfitting_keeps_the_batches_and_training_reshuffles(fmnist_root):
    dm = build_datamodule(config(fmnist_root), seed=0)
    dm.setup()
    dm.trainer = SimpleNamespace(overfit_batches=4, world_size=1, global_rank=0)
    fixed = _first_batch_of_epochs(dm, 3)
    assert all(torch.equal(fixed[0], labels) for labels in fixed[1:])
    dm.trainer = SimpleNamespace(overfit_batches=0, world_size=1, global_rank=0)
    shuffled = _first_batch_of_epochs(dm, 2)
    assert not torch.equal(shuffled[0], shuffled[1])
