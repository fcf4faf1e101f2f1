"""The regularizer protocol, proven by two regularizers added through it alone (max_norm,
label_smoothing): each one module in reglab/regularizers/kinds/ and one yaml, in single runs
and seeds=N alike."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from reglab.app.job import run
from reglab.app.settings import validate_config
from reglab.config.errors import ConfigError
from reglab.models.roles import state_dict_weights_by_role
from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.kinds import REGULARIZERS
from reglab.regularizers.regularization import Regularization

MLP = ["model.hidden=[32,16]", "logger=csv"]
TOY_MLP = ["dataset=toy1d", "model=mlp", "model.hidden=[16,8]", "logger=csv"]
TOY_MLP += ["trainer.max_epochs=2"]


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    return state_dict_weights_by_role(state)


def _row_norms(weights: dict[str, torch.Tensor], role: str) -> torch.Tensor:
    return weights[role].norm(dim=-1)


def _record(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def test_both_are_found_by_the_protocol_and_listed_nowhere_else():
    switches = [r.switch for r in REGULARIZERS]
    assert "max_norm" in switches and "label_smoothing" in switches
    names = Regularization(RegularizerConfig(max_norm=3.0, label_smoothing=0.1, l2=1e-3)).name
    assert names == "l2+max_norm+label_smoothing"


def test_max_norm_rescales_only_rows_above_c_in_single_and_stacked_weights():
    reg = Regularization(RegularizerConfig(max_norm=3.0))
    assert reg.has_constraint and not reg.has_penalty and not reg.has_loss_transform
    w = torch.tensor([[3.0, 4.0], [0.6, 0.8]])  # row norms 5 and 1
    stacked = torch.stack([w.clone(), 2 * w])  # replicas: norms (5, 1) and (10, 2)
    reg.constrain([w])
    torch.testing.assert_close(w, torch.tensor([[1.8, 2.4], [0.6, 0.8]]))  # direction kept
    reg.constrain([stacked])
    torch.testing.assert_close(stacked.norm(dim=-1), torch.tensor([[3.0, 1.0], [3.0, 2.0]]))


def test_label_smoothing_is_torchs_smoothed_cross_entropy():
    torch.manual_seed(0)
    logits, targets = torch.randn(32, 10), torch.randint(0, 10, (32,))
    plain = F.cross_entropy(logits, targets)
    reg = Regularization(RegularizerConfig(label_smoothing=0.1))
    smoothed = reg.training_loss(plain, logits, targets)
    expected = F.cross_entropy(logits, targets, label_smoothing=0.1)
    torch.testing.assert_close(smoothed, expected)
    assert abs(float(smoothed - plain)) > 1e-3  # it does change the loss
    off = Regularization(RegularizerConfig())
    assert off.training_loss(plain, logits, targets) is plain


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("regularizer.max_norm=-1", "regularizer.max_norm"),
        ("regularizer.label_smoothing=1.0", "regularizer.label_smoothing"),
        ("regularizer.label_smoothing=-0.1", "regularizer.label_smoothing"),
        ("regularizer.max_norm=inf", "regularizer.max_norm"),
    ],
)
def test_bad_values_stop_the_run_naming_the_key(make_config, override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(make_config(override))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["dataset=toy1d", "model=linear", "regularizer=max_norm"], "no hidden fully connected"),
        (["dataset=toy1d", "model=mlp", "regularizer=label_smoothing"], "regression task"),
    ],
)
def test_a_regularizer_that_cannot_act_is_refused_before_training(
    make_config, tmp_path, overrides, message
):
    with pytest.raises(ConfigError, match=message):
        run(make_config(*overrides, "trainer.max_epochs=1", fast=False))
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_max_norm_bounds_every_hidden_unit_after_every_step(make_config, tmp_path):
    c = 0.2
    free = run(make_config(*MLP, "seed=0"))
    assert free["status"] == "completed"
    unconstrained = _weights(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert float(_row_norms(unconstrained, "hidden 1").max()) > 2 * c  # the bound binds
    record = run(make_config(*MLP, "seed=0", "regularizer=max_norm", f"regularizer.max_norm={c}"))
    assert record["status"] == "completed" and record["choices"]["regularizer"] == "max_norm"
    weights = _weights(tmp_path / "run-1" / "checkpoints" / "last.ckpt")
    for role in ("hidden 1", "hidden 2"):
        norms = _row_norms(weights, role)
        assert float(norms.max()) <= c + 1e-5, role
        assert float(norms.max()) >= 0.9 * c, role  # rows reach the bound: it acted
    # the output layer is not a hidden unit: left alone
    assert float(_row_norms(weights, "output").max()) > c


@pytest.mark.parametrize(
    ("base", "regularizer"),
    [
        (MLP, ["regularizer=max_norm", "regularizer.max_norm=0.2"]),
        (MLP, ["regularizer=label_smoothing"]),
        (TOY_MLP, ["regularizer=max_norm", "regularizer.max_norm=0.3"]),  # fused batches
    ],
    ids=["max_norm", "label_smoothing", "max_norm_fused"],
)
def test_replica_k_equals_the_single_run_with_seed_k(make_config, tmp_path, base, regularizer):
    """Dropout off: one pass of seeds=2 trains what two single runs train, regularizer and all."""
    settings = [*base, *regularizer]
    record = run(make_config("seed=0", "seeds=2", *settings, fast=base is MLP))
    assert record["replica_status"] == ["completed", "completed"]
    for seed in (0, 1):
        single = run(make_config(f"seed={seed}", *settings, fast=base is MLP))
        single_dir = tmp_path / f"run-{seed + 1}"
        replica = _record(tmp_path / "run" / f"seed_{seed}")
        for key in ("train/loss", "train/w_norm", "test/loss"):
            assert replica[key] == pytest.approx(single[key], abs=1e-5), key
        mine = _weights(tmp_path / "run" / f"seed_{seed}" / "checkpoints" / "last.ckpt")
        theirs = _weights(single_dir / "checkpoints" / "last.ckpt")
        for role, tensor in theirs.items():
            torch.testing.assert_close(mine[role], tensor, atol=1e-5, rtol=0)
    if "regularizer=label_smoothing" in regularizer:  # train/loss is the smoothed loss
        plain = run(make_config("seed=0", *base, fast=base is MLP))
        assert abs(plain["train/loss"] - _record(tmp_path / "run" / "seed_0")["train/loss"]) > 1e-3
