"""Dropout inside the convolutional part (`regularizer.conv_dropout`).

The PyTorch note that adds dropout to the CIFAR-10 tutorial's LeNet puts `nn.Dropout(0.5)`
after each convolution, before ReLU and pooling. Two modes (`regularizer.conv_dropout_mode`):
  element: each activation of each feature map dropped on its own (`nn.Dropout`, the note);
  channel: whole feature maps dropped per sample (`nn.Dropout2d`): neighbouring pixels are
           strongly correlated, so element-wise masks remove little information.
Survivors are scaled by 1 / (1 - p); evaluation passes the maps through unchanged.
"""

import torch

from reglab.regularizers.dropout import RateDropout, keep_mask
from reglab.regularizers.settings import ConvDropoutMode


class ConvDropout(RateDropout):
    def __init__(self, p: float, mode: ConvDropoutMode = "element"):
        super().__init__(p, "conv_dropout")
        self.mode = mode

    def drop(self, x: torch.Tensor) -> torch.Tensor:
        # channel mode: one draw per (sample, channel), broadcast over the map
        shape = x.shape if self.mode == "element" else (*x.shape[:2], *([1] * (x.dim() - 2)))
        return x * keep_mask(torch.rand(shape, device=x.device, dtype=x.dtype), self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"
