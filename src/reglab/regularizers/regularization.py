"""`Regularization` gathers what the chosen options do to a run: the hooks that place modules in
hidden layers (dropout, noise, DropConnect), optimizer parameter groups (weight decay), the explicit
penalty added to the loss (l1, l2), a learning-rate schedule (lr_decay), callbacks
(early_stopping) and the training-batch augmentation (augment).
"""

from dataclasses import dataclass

import lightning as L
import torch
from torch import nn

from reglab.regularizers.augment import BatchAugment
from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.early_stopping import early_stopping_callback
from reglab.regularizers.hooks import HiddenHooks
from reglab.regularizers.lr_decay import lr_scheduler
from reglab.regularizers.penalties import l1_penalty, l2_penalty
from reglab.regularizers.weight_decay import parameter_groups, weight_parameters


def _is_on(value) -> bool:
    if isinstance(value, list):
        return any(v > 0 for v in value)
    return bool(value)


@dataclass(frozen=True)
class Regularization:
    cfg: RegularizerConfig

    @property
    def name(self) -> str:
        """What is switched on, e.g. 'dropout+weight_decay', or 'none'."""
        settings = self.cfg.model_dump(exclude=set(RegularizerConfig.SETTINGS))
        active = [key for key, value in settings.items() if _is_on(value)]
        return "+".join(active) or "none"

    def hooks(self, model: str = "the model") -> HiddenHooks:
        """What a model's constructor gets as `hooks`: dropout, noise, DropConnect and conv
        dropout for its hidden and conv layers (see reglab.regularizers.hooks)."""
        return HiddenHooks(self.cfg, model)

    def parameter_groups(self, net: nn.Module) -> list[dict]:
        return parameter_groups(net, self.cfg.weight_decay)

    def scheduler(self, optimizer: torch.optim.Optimizer, max_epochs: int):
        """The lr_decay schedule (stepped once per epoch), or None."""
        if self.cfg.lr_decay is None:
            return None
        return lr_scheduler(self.cfg.lr_decay, optimizer, max_epochs)

    def augmentation(self, seed: int) -> BatchAugment | None:
        """The training-batch augmentation the data module applies, or None."""
        return None if self.cfg.augment is None else BatchAugment(self.cfg.augment, seed)

    def callbacks(self) -> list[L.Callback]:
        if self.cfg.early_stopping is None:
            return []
        return [early_stopping_callback(self.cfg.early_stopping)]

    @property
    def has_penalty(self) -> bool:
        return self.cfg.l2 > 0 or self.cfg.l1 > 0

    @staticmethod
    @torch.no_grad()
    def weight_norm(net: nn.Module) -> torch.Tensor:
        """||w||_2 over all weights (not biases), the quantity decay and l2 shrink."""
        return torch.sqrt(sum(w.pow(2).sum() for w in weight_parameters(net)))

    def penalty(self, net: nn.Module) -> torch.Tensor:
        """The explicit term added to the data loss (a zero tensor when none is on)."""
        weights = list(weight_parameters(net))
        total = weights[0].new_zeros(())
        if self.cfg.l2 > 0:
            total = total + self.cfg.l2 * l2_penalty(weights)
        if self.cfg.l1 > 0:
            total = total + self.cfg.l1 * l1_penalty(weights)
        return total
