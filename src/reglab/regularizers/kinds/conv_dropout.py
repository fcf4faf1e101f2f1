"""Dropout after each convolution, before its activation (`regularizer=conv_dropout`)."""

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import ConvDropoutMode, DropoutRates


class ConvDropoutSettings(Schema):
    # dropout after each conv (before its activation and pooling), per conv layer or one
    conv_dropout: DropoutRates = 0.0
    conv_dropout_mode: ConvDropoutMode = "element"


class ConvDropoutRegularizer(Regularizer):
    Settings = ConvDropoutSettings
    switch = "conv_dropout"
    order = 30
    layers = "conv"

    def after_conv(self, index: int) -> list:
        rate = self.rate(index)
        if rate == 0:
            return []
        from reglab.regularizers.conv_dropout import ConvDropout

        return [ConvDropout(rate, self.cfg.conv_dropout_mode)]
