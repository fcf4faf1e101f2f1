"""DropConnect (`regularizer.dropconnect`): masks over weight matrices, on known weights."""

import pytest
import torch
from torch import nn

from reglab.config.compose import option
from reglab.config.errors import ConfigError
from reglab.models.build import build_model
from reglab.models.config import LeNetConfig, MLPConfig
from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.dropconnect import DropConnectLinear
from reglab.regularizers.regularization import Regularization


def known_layer(p: float) -> DropConnectLinear:
    layer = DropConnectLinear(4, 3, p)
    with torch.no_grad():
        layer.weight.copy_(torch.arange(1.0, 13.0).view(3, 4))  # 1 ... 12
        layer.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    return layer


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_masked_weights_are_zero_or_rescaled_and_keep_the_mean(p):
    torch.manual_seed(0)
    layer = known_layer(p)
    draws = torch.stack([layer.masked_weight().detach() for _ in range(20_000)])
    w = layer.weight.detach()
    # every draw: each weight is 0 or w / (1 - p)
    kept = draws != 0
    assert torch.allclose(draws[kept], (w.expand_as(draws) / (1 - p))[kept])
    assert abs(1 - kept.float().mean().item() - p) < 0.01
    # the mean over draws is the weight matrix itself
    assert torch.allclose(draws.mean(0), w, rtol=0.05)


def test_training_forward_uses_one_masked_matrix_and_eval_the_true_one():
    torch.manual_seed(1)
    layer = known_layer(0.5)
    x = torch.eye(4)  # row i of the output = column i of W, plus the bias
    layer.train()
    y = layer(x) - layer.bias
    w = layer.weight.detach()
    # each output is 0 or 2 w: a mask over the weights, not over the outputs' rows
    assert torch.all((y == 0) | torch.isclose(y, 2 * w.T))
    assert 0 < (y == 0).sum() < y.numel()
    layer.eval()
    assert torch.equal(layer(x), w.T + layer.bias)


def test_gradient_reaches_kept_weights_only_scaled():
    torch.manual_seed(2)
    layer = known_layer(0.5)
    torch.manual_seed(3)
    layer(torch.ones(1, 4)).sum().backward()
    torch.manual_seed(3)
    mask = (torch.rand(3, 4) >= 0.5).float()
    assert torch.equal(layer.weight.grad, mask * 2.0)
    assert torch.equal(layer.bias.grad, torch.ones(3))  # biases are never dropped


def test_mlp_gets_dropconnect_on_hidden_layers_only_with_per_layer_rates():
    cfg = MLPConfig(**option("model", "mlp") | dict(hidden=[32, 16], init="normal"))
    regularization = Regularization(RegularizerConfig(dropconnect=[0.2, 0.5]))
    net = build_model(cfg, (1, 4, 4), 3, regularization)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [getattr(m, "p", None) for m in linears] == [0.2, 0.5, None]
    assert type(linears[-1]) is nn.Linear
    # the usual parameter names (checkpoints, instruments) and the chosen init (N(0, 0.01))
    assert "layers.1.weight" in net.state_dict()
    assert abs(linears[0].weight.std().item() - 0.01) < 0.002
    assert regularization.name == "dropconnect"


def test_one_rate_for_all_and_zero_rate_leaves_a_plain_linear():
    cfg = MLPConfig(**option("model", "mlp") | dict(hidden=[4, 4]))
    net = build_model(cfg, (4,), 2, Regularization(RegularizerConfig(dropconnect=[0.0, 0.3])))
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert type(linears[0]) is nn.Linear
    assert isinstance(linears[1], DropConnectLinear) and linears[1].p == 0.3
    with pytest.raises(ConfigError, match=r"regularizer\.dropconnect has 3 values but model=mlp"):
        build_model(cfg, (4,), 2, Regularization(RegularizerConfig(dropconnect=[0.1] * 3)))


def test_lenet_fc_layers_get_dropconnect():
    regularization = Regularization(RegularizerConfig(dropconnect=0.5))
    net = build_model(LeNetConfig(**option("model", "lenet")), (1, 28, 28), 10, regularization)
    dropped = [m for m in net.modules() if isinstance(m, DropConnectLinear)]
    assert [(m.in_features, m.out_features) for m in dropped] == [(400, 120), (120, 84)]


def test_dropconnect_rates_must_match_the_hidden_layers(make_config):
    from reglab.app.settings import validate_config
    from reglab.config.errors import ConfigError

    with pytest.raises(ConfigError, match=r"regularizer\.dropconnect has 3 values"):
        validate_config(
            make_config("regularizer=dropconnect", "regularizer.dropconnect=[0.1,0.2,0.3]")
        )
    with pytest.raises(ConfigError, match=r"regularizer\.dropconnect"):
        validate_config(make_config("regularizer.dropconnect=1.0"))


def test_dropout_table_has_a_dropconnect_row_and_keeps_the_before_activation_row(make_config):
    import yaml

    from reglab.app.settings import validate_config
    from reglab.config import CONFIG_DIR

    experiment = yaml.safe_load((CONFIG_DIR / "experiment" / "dropout_table.yaml").read_text())
    cases = experiment["hydra"]["sweeper"]["params"]["+case/dropout_table"].split(",")
    assert "dropconnect" in cases and "dropout_before_activation" in cases and len(cases) == 8
    settings = validate_config(
        make_config("experiment=dropout_table", "+case/dropout_table=dropconnect", fast=False)
    )
    assert settings.regularizer.dropconnect == [0.2, 0.5]
    assert settings.regularizer.dropout == 0.0
