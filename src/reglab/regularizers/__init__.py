"""Regularizers (config group `regularizer`), one module each.

`Regularization` gathers what the chosen options do to a run: the modules placed around each
hidden activation (dropout, noise), optimizer parameter groups (weight decay), the explicit
penalty added to the loss (l1, l2), a learning-rate schedule (lr_decay), callbacks
(early_stopping) and the training-batch augmentation (augment).
"""

from dataclasses import dataclass

import lightning as L
import torch
from torch import nn

from reglab.regularizers.augment import BatchAugment
from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.conv_dropout import conv_dropout_modules
from reglab.regularizers.dropconnect import apply_dropconnect
from reglab.regularizers.dropout import Dropout, dropout_rates, per_layer
from reglab.regularizers.early_stopping import early_stopping_callback
from reglab.regularizers.lr_decay import lr_scheduler
from reglab.regularizers.noise import GaussianNoise
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

    def dropout_rates(self, num_layers: int) -> list[float]:
        return dropout_rates(self.cfg.dropout, num_layers)

    def hidden_modules(self, num_layers: int) -> list[tuple[list[nn.Module], list[nn.Module]]]:
        """For each hidden layer, the modules before and after its activation."""
        rates = self.dropout_rates(num_layers)
        stds = per_layer(self.cfg.noise, num_layers, "noise")
        layers = []
        for rate, std in zip(rates, stds, strict=True):
            dropout = [Dropout(rate, self.cfg.dropout_impl)] if rate > 0 else []
            noise = [GaussianNoise(std)] if std > 0 else []
            if self.cfg.dropout_placement == "before_activation":
                layers.append((dropout, noise))
            else:
                layers.append(([], noise + dropout))
        return layers

    def apply_dropconnect(self, layers: nn.Sequential, num_layers: int) -> nn.Sequential:
        """DropConnect on the Linear layers of the hidden layers in `layers` (if it is on)."""
        rates = per_layer(self.cfg.dropconnect, num_layers, "dropconnect")
        return apply_dropconnect(layers, rates) if any(rates) else layers

    def conv_modules(self, num_convs: int) -> list[list[nn.Module]]:
        """For each conv layer, the modules between it (and its norm) and its activation."""
        rates = per_layer(self.cfg.conv_dropout, num_convs, "conv_dropout")
        return conv_dropout_modules(rates, self.cfg.conv_dropout_mode)

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


__all__ = ["Regularization", "RegularizerConfig"]
