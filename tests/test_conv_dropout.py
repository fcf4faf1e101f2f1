"""Conv dropout (`regularizer.conv_dropout`): element-wise and per channel, off in eval."""

import pytest
import torch
from torch import nn

from reglab.app.settings import validate_config
from reglab.config.compose import option
from reglab.config.errors import ConfigError
from reglab.models.build import build_model
from reglab.models.config import LeNetConfig
from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.conv_dropout import ConvDropout
from reglab.regularizers.regularization import Regularization


@pytest.mark.parametrize("mode", ["element", "channel"])
def test_conv_dropout_zeroes_about_p_rescales_and_is_off_in_eval(mode):
    torch.manual_seed(0)
    drop = ConvDropout(0.5, mode)
    x = torch.ones(64, 16, 8, 8)
    y = drop(x)
    assert abs((y == 0).float().mean().item() - 0.5) < 0.02
    assert torch.allclose(y[y != 0], torch.tensor(2.0))
    per_map = (y == 0).flatten(2).float().mean(2)  # fraction dropped in each (sample, channel)
    if mode == "channel":  # whole maps: every map all kept or all dropped (nn.Dropout2d)
        assert torch.all((per_map == 0) | (per_map == 1))
    else:
        assert 0 < per_map.mean() < 1 and torch.any((per_map > 0) & (per_map < 1))
    drop.eval()
    assert torch.equal(drop(x), x)


def test_lenet_puts_conv_dropout_after_each_conv_before_the_activation():
    regularization = Regularization(
        RegularizerConfig(conv_dropout=0.5, conv_dropout_mode="channel")
    )
    net = build_model(LeNetConfig(**option("model", "lenet")), (3, 32, 32), 10, regularization)
    kinds = [type(m).__name__ for m in net.features]
    assert kinds == [
        "Conv2d", "ConvDropout", "ReLU", "MaxPool2d",
        "Conv2d", "ConvDropout", "ReLU", "MaxPool2d", "Flatten",
    ]  # fmt: skip
    assert all(m.mode == "channel" for m in net.features if isinstance(m, ConvDropout))
    assert regularization.name == "conv_dropout"
    plain = build_model(
        LeNetConfig(**option("model", "lenet")),
        (3, 32, 32),
        10,
        Regularization(RegularizerConfig()),
    )
    assert not any(isinstance(m, ConvDropout) for m in plain.modules())
    assert isinstance(plain.features[1], nn.ReLU)


def test_conv_dropout_needs_conv_layers(make_config):
    with pytest.raises(ConfigError, match=r"regularizer\.conv_dropout is on but model=mlp"):
        validate_config(make_config("regularizer=conv_dropout"))
    with pytest.raises(ConfigError, match="conv_dropout_mode"):
        validate_config(make_config("model=lenet", "regularizer.conv_dropout_mode=pixel"))
