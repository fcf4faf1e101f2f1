"""Reseeds torch's random generators at every epoch from (seed, epoch, rank).

Dropout masks and noise then depend on the epoch, not on everything drawn before it, so a run
resumed from an epoch's checkpoint draws exactly what the uninterrupted run drew (Lightning's
checkpoints do not carry RNG states), and DDP ranks draw different masks.
"""

import lightning as L
import torch


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    return hash((seed, epoch, rank)) % (2**63)  # ints hash the same in every process


class EpochSeeding(L.Callback):
    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        torch.manual_seed(epoch_seed(self.seed, trainer.current_epoch, trainer.global_rank))
