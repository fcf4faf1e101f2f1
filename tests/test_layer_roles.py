"""Layers are named by role (hidden 1, ..., output), so the same name is the same layer in
every job of a sweep, whatever dropout or norm modules shift the positions."""

import torch

from reglab.config.compose import option
from reglab.models.build import build_model
from reglab.models.config import LeNetConfig, MLPConfig
from reglab.models.roles import roles, state_dict_weights_by_role, weight_layers_by_role
from reglab.regularizers.config import RegularizerConfig
from reglab.regularizers.regularization import Regularization

from .conftest import run_main


def _mlp(dropout: float):
    config = MLPConfig(**option("model", "mlp") | dict(hidden=[16, 8]))
    return build_model(config, (5,), 3, Regularization(RegularizerConfig(dropout=dropout)))


def _shapes(layers: dict) -> dict:
    return {role: tuple(layer.weight.shape) for role, layer in layers.items()}


def test_roles_do_not_move_with_dropout_or_norms():
    plain, dropped = _mlp(0.0), _mlp(0.5)
    # positions differ (a Dropout module after each hidden activation) ...
    plain_names = [n for n, m in plain.named_modules() if isinstance(m, torch.nn.Linear)]
    dropped_names = [n for n, m in dropped.named_modules() if isinstance(m, torch.nn.Linear)]
    assert plain_names != dropped_names
    # ... roles do not
    expected = {"hidden 1": (16, 5), "hidden 2": (8, 16), "output": (3, 8)}
    assert _shapes(weight_layers_by_role(plain)) == expected
    assert _shapes(weight_layers_by_role(dropped)) == expected
    # the same roles from a saved state dict (what the sweep figures read)
    state = {f"net.{k}": v for k, v in dropped.state_dict().items()}
    assert {r: tuple(w.shape) for r, w in state_dict_weights_by_role(state).items()} == expected


def test_conv_roles_and_norm_scales_left_out():
    net = build_model(
        LeNetConfig(**option("model", "lenet_bn")),
        (1, 28, 28),
        10,
        Regularization(RegularizerConfig()),
    )
    assert list(weight_layers_by_role(net)) == [
        "conv 1",
        "conv 2",
        "hidden 1",
        "hidden 2",
        "output",
    ]
    state = {f"net.{k}": v for k, v in net.state_dict().items()}  # BatchNorm weights are 1-D
    assert list(state_dict_weights_by_role(state)) == list(weight_layers_by_role(net))
    assert roles(["linear"]) == ["output"]  # the linear model: one layer, the output


def test_none_vs_dropout_sweep_compares_the_same_layers(tmp_path):
    """The issue's case: -m experiment=toy1d_dropout. Each job's layer named `hidden 3`
    is the 200x200 layer, in both jobs, and the figure gets one panel per role."""
    from reglab.report.compare import layer_weights
    from reglab.report.jobs import load_jobs

    sweep = tmp_path / "sweep"
    result = run_main(
        [
            "-m",
            "experiment=toy1d_dropout",
            "trainer.max_epochs=20",
            "logger=csv",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = load_jobs(sweep)
    assert len(jobs) == 2
    shapes = [{r: tuple(w.shape) for r, w in layer_weights(job).items()} for job in jobs]
    assert (
        shapes[0]
        == shapes[1]
        == {
            "hidden 1": (200, 1),
            "hidden 2": (200, 200),
            "hidden 3": (200, 200),
            "output": (1, 200),
        }
    )
    assert (sweep / "weight_histograms.png").read_bytes()[:4] == b"\x89PNG"
    # metrics.csv columns by role too (instruments off here: the role keys of the norms are
    # tested in test_instruments.py); no position names anywhere in the header
    header = (jobs[0].path / "metrics.csv").read_text().splitlines()[0]
    assert "layers." not in header
