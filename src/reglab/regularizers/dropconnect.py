"""DropConnect (`regularizer.dropconnect`): dropout on the weights, not the activations.

The d2l 4.6 exercise asks what happens "if we apply dropout to the individual weights of the
weight matrix rather than the activations". Each training step draws one 0/1 mask over a
hidden layer's weight matrix (each weight kept with probability 1 - p) and scales the kept
weights by 1 / (1 - p), so the expected weight matrix is the true one; evaluation uses the
weights as they are. Biases are not dropped. One mask per step (not per sample): the layer
stays one matrix product.
"""

import torch
from torch import nn
from torch.nn import functional as F

from reglab.regularizers.dropout import is_on, keep_mask


def masked_weight(weight: torch.Tensor, p) -> torch.Tensor:
    """W * m / (1 - p), m ~ Bernoulli(1 - p) (p a number, or each replica's, broadcasting)."""
    return weight * keep_mask(torch.rand_like(weight), p)


class DropConnectLinear(nn.Linear):
    """An `nn.Linear` whose weight matrix is masked and rescaled in training.

    A subclass, so its parameters keep the names `weight` and `bias` (checkpoints, weight
    decay groups, instruments and initialisation see an ordinary Linear layer)."""

    # stacked replicas with different rates hold one per replica (reglab.replicas.stack)
    replica_attributes = ("p",)

    def __init__(self, in_features: int, out_features: int, p: float, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropconnect rate must lie in [0, 1), got {p}")
        self.p = p

    def masked_weight(self) -> torch.Tensor:
        """The weight matrix this training step uses: W * m / (1 - p), m ~ Bernoulli(1 - p)."""
        return masked_weight(self.weight, self.p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not is_on(self.p):
            return F.linear(x, self.weight, self.bias)
        return F.linear(x, self.masked_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"
