"""Dropout (`regularizer=dropout`): rates per hidden layer, and the dropout layer itself.

Two implementations, chosen with `regularizer.dropout_impl`:
  torch:   `nn.functional.dropout`.
  scratch: d2l 4.6's mask-and-rescale, `x * (rand >= p) / (1 - p)`. On CPU, PyTorch draws
           the mask with `bernoulli_`, one scalar RNG call per element: about 1.0 ms forward
           and backward for a 256x256 activation on a 2-core machine, against 0.35 ms here,
           and dropout is a third of the d2l MLP's step.
  auto:    scratch on CPU tensors, torch (a fused kernel) on accelerators. The default.
Both keep each unit with probability 1 - p and scale survivors by 1 / (1 - p).
"""

import torch
from torch import nn
from torch.nn import functional as F

from reglab.regularizers.settings import DropoutImpl


def keep_mask(draws: torch.Tensor, p) -> torch.Tensor:
    """The mask, from uniform `draws` in [0, 1), that keeps a unit with probability 1 - p and
    scales it by 1 / (1 - p): 0 or 1 / (1 - p). (An in-place `draws.ge_(p)` is ~15% faster
    on one CPU thread, but vmap has no batching rule for it: a warning and a slow fallback
    under seeds=N.)"""
    return (draws >= p) * (1.0 / (1.0 - p))


def is_on(rate) -> bool:
    """Whether a rate (or a std) acts: a number above 0, or each replica's (a tensor: a pack's
    rates are all > 0)."""
    return torch.is_tensor(rate) or rate > 0.0


def drop(x: torch.Tensor, p, impl: DropoutImpl = "auto") -> torch.Tensor:
    """Dropout at rate p (a number, or a tensor broadcasting against x: each replica's)."""
    fused = impl == "torch" or (impl == "auto" and x.device.type != "cpu")
    if fused and not torch.is_tensor(p):  # F.dropout takes one float rate
        return F.dropout(x, p, training=True)
    return x * keep_mask(torch.rand_like(x), p)


class RateDropout(nn.Module):
    """A dropout layer with rate p in [0, 1): `drop(x)` in training, x as it is in eval.

    Stacked replicas with different rates (a sweep's pack) hold p as a tensor, one rate per
    replica (`replica_attributes`, reglab.replicas.stack); every replica's rate is then > 0.
    """

    replica_attributes = ("p",)

    def __init__(self, p: float, what: str = "dropout"):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{what} rate must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(x) if self.training and is_on(self.p) else x

    def drop(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class Dropout(RateDropout):
    def __init__(self, p: float, impl: DropoutImpl = "auto"):
        super().__init__(p)
        self.impl = impl

    def drop(self, x: torch.Tensor) -> torch.Tensor:
        return drop(x, self.p, self.impl)

    def extra_repr(self) -> str:
        return f"p={self.p}, impl={self.impl}"
