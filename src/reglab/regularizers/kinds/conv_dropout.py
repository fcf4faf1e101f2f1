"""Dropout after each convolution, before its activation and pooling
(`regularizer=conv_dropout`, the PyTorch note's LeNet): one rate per conv layer or one for all;
conv_dropout_mode: element (nn.Dropout) | channel (whole feature maps, nn.Dropout2d)."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import ConvDropoutMode, DropoutRates

KEYS = {"conv_dropout": (DropoutRates, 0.0), "conv_dropout_mode": (ConvDropoutMode, "element")}


class ConvDropoutRegularizer(
    Regularizer, keys=KEYS, order=30, layers="conv", per_replica=("conv_dropout",)
):
    def after_conv(self, index: int) -> list:
        from reglab.regularizers.conv_dropout import ConvDropout

        rate = self.rate(index)
        return [ConvDropout(rate, self.cfg.conv_dropout_mode)] if rate > 0 else []
