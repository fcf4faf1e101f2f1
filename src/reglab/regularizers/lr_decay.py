"""Learning-rate decay (`regularizer=lr_decay`): brake before overfitting.

step:   lr *= gamma every `step_size` epochs (torch StepLR).
cosine: lr follows a half cosine from its start value down to `min_lr` at the last epoch
        (torch CosineAnnealingLR with T_max = trainer.max_epochs).
Both step once per epoch. One schema holds every schedule's keys, so a Hydra override
switches schedule with one key (`regularizer.lr_decay.schedule=cosine`).
"""

import torch

from reglab.regularizers.settings import LRDecayConfig


def lr_scheduler(
    cfg: LRDecayConfig, optimizer: torch.optim.Optimizer, max_epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, gamma=cfg.gamma)
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(max_epochs, 1), eta_min=cfg.min_lr
    )
