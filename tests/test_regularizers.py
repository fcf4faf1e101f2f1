"""Each regularizer does what it says, checked on known inputs."""

import pytest
import torch
from torch import nn

from reglab.config.compose import option
from reglab.models.build import build_model
from reglab.models.config import MLPConfig
from reglab.models.mlp import MLP
from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.dropout import Dropout
from reglab.regularizers.noise import GaussianNoise
from reglab.regularizers.regularization import Regularization
from reglab.regularizers.weight_decay import weight_parameters


def reg(**kw) -> Regularization:
    return Regularization(RegularizerConfig(**kw))


@pytest.mark.parametrize("impl", ["torch", "scratch", "auto"])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_zeroes_about_p_and_keeps_the_expectation(p, impl):
    torch.manual_seed(0)
    dropout = Dropout(p, impl)
    x = torch.ones(200_000)
    dropout.train()
    y = dropout(x)
    zero_fraction = (y == 0).float().mean().item()
    assert abs(zero_fraction - p) < 0.01
    assert abs(y.mean().item() - 1.0) < 0.02  # survivors are scaled by 1/(1-p)
    assert torch.allclose(y[y != 0], torch.tensor(1 / (1 - p)))
    dropout.eval()
    assert torch.equal(dropout(x), x)


def test_dropout_rates_follow_the_hidden_layers_after_each_activation():
    net = build_model(
        MLPConfig(**option("model", "mlp") | dict(hidden=[32, 16])),
        (1, 4, 4),
        3,
        reg(dropout=[0.2, 0.5]),
    )
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["Flatten", "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert [m.p for m in net.layers if isinstance(m, Dropout)] == [0.2, 0.5]
    assert not any(isinstance(m, Dropout) for m in MLP((4,), 2, [8, 8]).modules())


def test_scratch_and_torch_dropout_agree_in_mean_and_variance():
    torch.manual_seed(0)
    x = torch.randn(400_000) + 2.0
    outs = {impl: Dropout(0.3, impl).train()(x) for impl in ("torch", "scratch")}
    for stat in (torch.mean, torch.var):
        a, b = stat(outs["torch"]).item(), stat(outs["scratch"]).item()
        assert a == pytest.approx(b, rel=0.02), stat


def test_dropout_gradient_flows_through_kept_units_only():
    x = torch.ones(10_000, requires_grad=True)
    y = Dropout(0.5, "scratch").train()(x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y.detach() != 0).float() * 2.0)


def test_weight_decay_reaches_weights_and_not_biases():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    groups = reg(weight_decay=0.1).parameter_groups(net)
    decayed = {id(p) for p in groups[0]["params"]}
    assert decayed == {id(net[0].weight), id(net[2].weight)}
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    # One SGD step with zero gradients: only decay moves parameters, w <- w - lr*wd*w.
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.SGD(groups, lr=0.5)
    for p in net.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for (name, p), old in zip(net.named_parameters(), before, strict=True):
        expected = old * (1 - 0.5 * 0.1) if name.endswith("0.weight") or name == "2.weight" else old
        torch.testing.assert_close(p.detach(), expected, msg=name)


def test_explicit_penalties_equal_hand_computed_values():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.5]]))
        net[0].bias.fill_(100.0)  # biases are not penalised
        net[1].weight.copy_(torch.tensor([[-1.0, 2.0]]))
        net[1].bias.fill_(-7.0)
    squares = 1 + 4 + 9 + 0.25 + 1 + 4  # 19.25
    absolutes = 1 + 2 + 3 + 0.5 + 1 + 2  # 9.5
    weights = list(weight_parameters(net))
    assert reg(l2=1.0).penalty(weights).item() == pytest.approx(squares / 2)
    assert reg(l1=1.0).penalty(weights).item() == pytest.approx(absolutes)
    assert reg(l2=0.1).penalty(weights).item() == pytest.approx(0.1 * squares / 2)
    assert reg(l1=0.01).penalty(weights).item() == pytest.approx(0.01 * absolutes)
    assert reg(l2=0.1, l1=0.01).penalty(weights).item() == pytest.approx(
        0.1 * squares / 2 + 0.01 * absolutes
    )
    assert not reg().has_penalty and reg().penalty(weights).item() == 0.0


def test_penalty_gradient_is_lambda_w_for_l2():
    net = nn.Linear(3, 1)
    reg(l2=0.5).penalty(list(weight_parameters(net))).backward()
    torch.testing.assert_close(net.weight.grad, 0.5 * net.weight.detach())
    assert net.bias.grad is None


def test_regularization_names_what_is_on():
    assert reg().name == "none"
    assert reg(dropout=[0.2, 0.5], weight_decay=1e-4).name == "dropout+weight_decay"
    assert reg(dropout=[0.0, 0.0], l1=1e-5).name == "l1"


def test_normal_init_matches_d2l():
    torch.manual_seed(0)
    net = build_model(
        MLPConfig(**option("model", "mlp") | dict(hidden=[512], init="normal")), (784,), 10, reg()
    )
    w = net.layers[1].weight
    assert abs(w.std().item() - 0.01) < 0.0005 and abs(w.mean().item()) < 0.0005
    assert torch.count_nonzero(net.layers[1].bias) == 0


def layer_kinds(regularization: Regularization, hidden=(8, 8)) -> list[str]:
    net = build_model(
        MLPConfig(**option("model", "mlp") | dict(hidden=list(hidden))), (4,), 2, regularization
    )
    return [type(m).__name__ for m in net.layers]


def test_dropout_placement_before_or_after_the_activation():
    assert layer_kinds(reg(dropout=0.5), hidden=[8]) == [
        "Flatten",
        "Linear",
        "ReLU",
        "Dropout",
        "Linear",
    ]
    assert layer_kinds(reg(dropout=0.5, dropout_placement="before_activation"), hidden=[8]) == [
        "Flatten",
        "Linear",
        "Dropout",
        "ReLU",
        "Linear",
    ]


def test_dropout_before_activation_drops_pre_activations():
    """Dropping pre-activations: a dropped unit reads relu(0) = 0, survivors are rescaled."""
    torch.manual_seed(0)
    net = build_model(
        MLPConfig(**option("model", "mlp") | dict(hidden=[4000])),
        (1,),
        1,
        reg(dropout=0.25, dropout_placement="before_activation"),
    )
    with torch.no_grad():
        net.layers[1].weight.fill_(1.0)
        net.layers[1].bias.zero_()
    hidden = net.layers[:4].train()(torch.ones(1, 1))  # Flatten, Linear, Dropout, ReLU
    assert abs((hidden == 0).float().mean().item() - 0.25) < 0.03
    torch.testing.assert_close(hidden[hidden != 0], torch.full_like(hidden[hidden != 0], 4 / 3))


def test_noise_is_zero_mean_with_the_right_std_and_absent_in_eval():
    torch.manual_seed(0)
    assert layer_kinds(reg(noise=0.1), hidden=[8]) == [
        "Flatten",
        "Linear",
        "ReLU",
        "GaussianNoise",
        "Linear",
    ]
    assert layer_kinds(reg(noise=0.1, dropout=0.5), hidden=[8])[3:5] == ["GaussianNoise", "Dropout"]
    noise = GaussianNoise(0.3)
    x = torch.full((200_000,), 2.0)
    y = noise.train()(x) - x
    assert abs(y.mean().item()) < 0.003 and y.std().item() == pytest.approx(0.3, rel=0.01)
    assert torch.equal(noise.eval()(x), x)
    assert reg(noise=[0.1, 0.0]).name == "noise"
    assert [
        m.std
        for m in build_model(
            MLPConfig(**option("model", "mlp") | dict(hidden=[8, 8])),
            (4,),
            2,
            reg(noise=[0.1, 0.2]),
        ).modules()
        if isinstance(m, GaussianNoise)
    ] == [0.1, 0.2]


def test_lr_decay_schedules():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    step = reg(lr_decay={"schedule": "step", "step_size": 2, "gamma": 0.5}).scheduler(optimizer, 10)
    lrs = []
    for _ in range(6):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        step.step()
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    cosine = reg(lr_decay={"schedule": "cosine", "min_lr": 0.1}).scheduler(optimizer, 4)
    assert isinstance(cosine, torch.optim.lr_scheduler.CosineAnnealingLR)
    lrs = []
    for _ in range(5):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        cosine.step()
    assert lrs == pytest.approx([1.0, 0.8682, 0.55, 0.2318, 0.1], abs=1e-4)
    assert reg().scheduler(optimizer, 4) is None


@pytest.mark.parametrize(("activation", "same"), [("relu", True), ("tanh", False)])
def test_dropout_placement_only_matters_for_non_homogeneous_activations(activation, same):
    """relu(m * x / (1-p)) == m * relu(x) / (1-p) for a 0/1 mask m: with ReLU both
    placements compute the same function (given the same masks); with tanh they do not."""
    outputs = []
    for placement in ("after_activation", "before_activation"):
        torch.manual_seed(0)
        net = build_model(
            MLPConfig(**option("model", "mlp") | dict(hidden=[32, 32], activation=activation)),
            (8,),
            3,
            reg(dropout=0.5, dropout_placement=placement),
        ).train()
        torch.manual_seed(1)
        outputs.append(net(torch.randn(16, 8)))
    assert torch.allclose(outputs[0], outputs[1]) == same
