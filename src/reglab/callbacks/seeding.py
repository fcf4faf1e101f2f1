"""Reseeds torch's random generators at every epoch from (seed, epoch, rank).

Dropout masks and noise then depend on the epoch, not on everything drawn before it, so a run
resumed from an epoch's checkpoint draws exactly what the uninterrupted run drew (Lightning's
checkpoints do not carry RNG states), and DDP ranks draw different masks.
"""

import lightning as L
import torch


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    return hash((seed, epoch, rank)) % (2**63)  # ints hash the same in every process


def seed_device(seed: int, device: torch.device) -> None:
    """Seeds the CPU generator and the training device's. Not torch.manual_seed: it also
    queues a seed for every other backend, formatting a stack trace each time (~1 ms, the
    whole epoch of a tiny model)."""
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)
    elif device.type == "mps":
        torch.mps.manual_seed(seed)


class EpochSeeding(L.Callback):
    def __init__(self, seed: int):
        self.seed = seed

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        seed = epoch_seed(self.seed, trainer.current_epoch, trainer.global_rank)
        seed_device(seed, pl_module.device)
