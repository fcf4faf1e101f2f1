"""The regression track: generators, the linear model, and the classic experiments' results."""

import csv
import itertools
import json
import math

import pytest
import torch

from reglab.app.job import run
from reglab.app.settings import validate_config
from reglab.config import ConfigError
from reglab.config.compose import option
from reglab.data.synthetic import (
    LinearRegressionConfig,
    PolyConfig,
    Toy1DConfig,
    linear_data,
    poly_data,
    toy1d_data,
)
from reglab.report.compare import compare_jobs
from reglab.report.jobs import load_jobs

from .conftest import run_main


def lstsq(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.lstsq(x.double(), y.double()).solution.flatten()


def test_poly_generator_shapes_seed_and_true_weights():
    cfg = PolyConfig(**option("dataset", "poly") | dict(n_train=20_000, n_test=20_000, data_seed=3))
    features, labels, true_w = poly_data(cfg)
    assert features.shape == (40_000, 20) and labels.shape == (40_000, 1)
    assert true_w[:4].tolist() == pytest.approx([5, 1.2, -3.4, 5.6]) and not true_w[4:].any()
    # feature i is x^i / i!
    x = features[:, 1]
    torch.testing.assert_close(features[:, 3], x**3 / 6, rtol=1e-4, atol=1e-5)
    # least squares on the first 4 features recovers the weights; the residual is the noise
    w = lstsq(features[:, :4], labels)
    assert w.tolist() == pytest.approx([5, 1.2, -3.4, 5.6], abs=0.01)
    residual = labels.flatten().double() - features[:, :4].double() @ w
    assert residual.std().item() == pytest.approx(0.1, rel=0.03)
    again, other = poly_data(cfg), poly_data(cfg.model_copy(update={"data_seed": 4}))
    assert torch.equal(again[0], features) and torch.equal(again[1], labels)
    assert not torch.equal(other[1], labels)


def test_linear_generator_recovers_weight_bias_and_noise():
    cfg = LinearRegressionConfig(
        **option("dataset", "linear") | dict(n_train=10_000, n_test=10_000, num_inputs=50)
    )
    x, y = linear_data(cfg)
    assert x.shape == (20_000, 50) and y.shape == (20_000, 1)
    solution = lstsq(torch.cat([x, torch.ones(len(x), 1)], 1), y)
    assert solution[:-1].tolist() == pytest.approx([0.01] * 50, abs=0.001)
    assert solution[-1].item() == pytest.approx(0.05, abs=0.001)
    assert torch.equal(linear_data(cfg)[1], y)


def test_toy1d_points_and_noise_levels():
    splits = toy1d_data(Toy1DConfig(**option("dataset", "toy1d")))
    torch.testing.assert_close(splits.x_train.flatten(), torch.linspace(-1, 1, 10))
    assert torch.equal(splits.x_val, splits.x_test) and torch.equal(splits.y_val, splits.y_test)
    big = toy1d_data(Toy1DConfig(**option("dataset", "toy1d") | dict(n_points=50_000)))
    train_noise = big.y_train - 1.5 * big.x_train
    test_noise = big.y_test - 1.5 * big.x_test
    assert train_noise.std().item() == pytest.approx(0.5, rel=0.02)
    assert test_noise.std().item() == pytest.approx(0.3, rel=0.02)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["dataset=poly", "dataset.features=25"], "dataset.features=25 exceeds"),
        (["dataset=poly", "model=linear", "regularizer=dropout"], "has no hidden layers"),
        (["dataset=toy1d", "dataset.train_noise=-1"], "dataset.train_noise"),
        (["dataset=linear", "+dataset.val_size=3"], "dataset.val_size: unknown key"),
        (["test_ckpt=first"], "test_ckpt: Input should be 'auto', 'best' or 'last'"),
    ],
)
def test_regression_configs_are_validated(make_config, overrides, expected):
    with pytest.raises(ConfigError, match=expected):
        validate_config(make_config(*overrides, fast=False))


def experiment(make_config, *overrides):
    return run(make_config(*overrides, "logger=csv", fast=False))


def test_best_checkpoint_is_refused_where_validation_is_the_test_split(make_config):
    """toy1d validates on its test targets (as the course): test_ckpt=best would choose the
    checkpoint on test data, so it stops before training instead of testing last.ckpt."""
    cfg = make_config("dataset=toy1d", "model=mlp", "test_ckpt=best", fast=False)
    with pytest.raises(ConfigError, match="test_ckpt=best: toy1d's validation split is its test"):
        run(cfg)


def test_poly_right_fit_recovers_the_true_weights(make_config, tmp_path):
    record = experiment(make_config, "experiment=poly_fit", "+case/poly_fit=right")
    weights = json.loads((tmp_path / "run" / "weights.json").read_text())
    assert weights["learned"] == pytest.approx([5, 1.2, -3.4, 5.6], abs=0.15)
    assert record["test/loss"] < 0.05
    # a regression run: no accuracy; tested on the last weights (validation is the test set)
    assert "test/acc" not in record and record["tested_checkpoint"] == "last weights"
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["last.ckpt"]
    # d2l evaluates every 20 epochs; metrics.csv has val values exactly on those epochs
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows if r["val/loss"]] == list(range(20, 401, 20))


def test_poly_underfit_leaves_a_large_training_loss(make_config):
    record = experiment(
        make_config, "experiment=poly_fit", "+case/poly_fit=underfit", "trainer.max_epochs=100"
    )
    assert record["train/loss"] > 5


def test_weight_decay_shrinks_the_weights_both_ways(make_config):
    norms = {}
    for case in ("none", "l2", "weight_decay"):
        record = experiment(
            make_config, "experiment=weight_decay_linear", f"+case/weight_decay_linear={case}"
        )
        norms[case] = record["train/w_norm"]
        if case == "l2":
            assert record["train/penalty"] > 0
    assert norms["none"] > 10 * norms["l2"]
    # explicit l2/2*||w||^2 and SGD weight decay are the same update
    assert norms["l2"] == pytest.approx(norms["weight_decay"], rel=1e-3)


def total_variation(fit: dict) -> float:
    """sum |y[i+1] - y[i]| of the fitted curve on its grid: wiggles add to it."""
    y = fit["grid"]["y"]
    return sum(abs(b - a) for a, b in itertools.pairwise(y))


def _toy_fits(tmp_path, *extra: str) -> dict[str, dict]:
    from reglab.config.compose import compose_config

    fits = {}
    for name, override in (
        ("none", "regularizer.weight_decay=0"),
        ("decay", "regularizer.weight_decay=0.01"),
        ("dropout", "regularizer.dropout=0.5"),
    ):
        out = tmp_path / name
        # no progress bar: redrawing it costs more than a step of this tiny net
        overrides = ["experiment=toy1d_weight_decay", override, "logger=csv", *extra]
        run(compose_config([*overrides, "callbacks.progress_bar=null"], out))
        fits[name] = json.loads((out / "fit.json").read_text())
    return fits


def test_decay_and_dropout_give_a_smoother_toy_fit(tmp_path):
    # 600 of the experiment's 2,000 steps (the slow test below runs them all): the
    # unregularized net already wiggles through the noisy points. Measured total variation:
    # none 6.4, decay 4.4, dropout 2.0 (seeds 1-3: decay/none 0.70-0.72, dropout/none <= 0.32).
    # Validated (and checkpointed) once, at the end, not every 20 steps: the same training,
    # each step then costs Lightning less. (300 steps, or a larger lr for fewer steps, leave
    # decay/none above 0.85 for some seeds.)
    fits = _toy_fits(tmp_path, "trainer.max_epochs=600", "trainer.check_val_every_n_epoch=600")
    assert total_variation(fits["decay"]) < 0.85 * total_variation(fits["none"])
    assert total_variation(fits["dropout"]) < 0.85 * total_variation(fits["none"])
    assert all(math.isfinite(v) for v in fits["none"]["train"]["y"])


@pytest.mark.slow
def test_decay_and_dropout_give_a_smoother_toy_fit_full_experiment(tmp_path):
    fits = _toy_fits(tmp_path)
    # Measured: none 6.8, decay 4.9, dropout 3.5; the true line y = 1.5x has 3.3 on the grid.
    assert total_variation(fits["decay"]) < 0.85 * total_variation(fits["none"])
    assert total_variation(fits["dropout"]) < 0.85 * total_variation(fits["none"])
    # the unregularized net fits the noisy training points almost exactly
    train = fits["none"]["train"]
    assert all(math.isfinite(v) for v in train["y"])


def test_multirun_experiment_writes_the_comparison(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main(
        [
            "-m",
            "experiment=weight_decay_linear",
            "trainer.max_epochs=5",
            "logger=csv",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = load_jobs(sweep)
    assert [j.label for j in jobs] == [
        "case/weight_decay_linear=none",
        "case/weight_decay_linear=l2",
        "case/weight_decay_linear=weight_decay",
    ]
    assert all(j.status == "completed" and len(j.rows) == 5 for j in jobs)
    for name in ("comparison.png", "weight_histograms.png"):
        assert (sweep / name).read_bytes()[:4] == b"\x89PNG", name
    table = (sweep / "weights.md").read_text()
    assert table.count("\n") == 5 and "case/weight_decay_linear=l2" in table
    # the report can be rebuilt on demand
    (sweep / "comparison.png").unlink()
    assert {p.name for p in compare_jobs(jobs, sweep)} >= {"comparison.png"}


def test_fused_steps_make_exactly_the_same_updates(make_config, tmp_path):
    """batches_per_step=epoch (one Lightning step per epoch) == one step per minibatch."""
    from reglab.config.compose import compose_config

    weights = {}
    for mode in ("epoch", "1"):
        out = tmp_path / f"fused_{mode}"
        cfg = compose_config(
            [
                "experiment=poly_fit",
                "+case/poly_fit=overfit",
                "trainer.max_epochs=30",
                "regularizer=[l2,weight_decay]",
                "optimizer.momentum=0.9",
                f"dataset.batches_per_step={mode}",
                "logger=csv",
            ],
            out,
        )
        record = run(cfg)
        weights[mode] = json.loads((out / "weights.json").read_text())["learned"]
        assert record["epochs"] == 30
        rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
        assert [int(r["step"]) for r in rows][-1] == 30 * 10  # optimizer steps, not Lightning's
    assert weights["epoch"] == weights["1"]
