"""Regularizers (config group `regularizer`), one module each.

`Regularization` gathers what the chosen options do to a run: dropout rates for the model,
optimizer parameter groups (weight decay) and the explicit penalty added to the loss.
"""

from dataclasses import dataclass

import torch
from torch import nn

from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.dropout import dropout_rates
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
        settings = self.cfg.model_dump(exclude={"dropout_impl"})
        active = [key for key, value in settings.items() if _is_on(value)]
        return "+".join(active) or "none"

    def dropout_rates(self, num_layers: int) -> list[float]:
        return dropout_rates(self.cfg.dropout, num_layers)

    def parameter_groups(self, net: nn.Module) -> list[dict]:
        return parameter_groups(net, self.cfg.weight_decay)

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
