"""Optuna search (hydra/sweeper=reglab_optuna): search space, a tiny search end to end, resume."""

import csv
import json
import shlex

import pytest
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from reglab.search.space import SearchSpaceError, parse_search_space

from .conftest import FAST, run_main


def test_search_space_from_hydra_sweep_syntax():
    space = parse_search_space(
        [
            "regularizer.dropout=interval(0,0.8)",
            "regularizer.weight_decay=tag(log,interval(1e-5,1e-2))",
            "model.hidden.0=tag(int,interval(16,64))",
            "seed=range(0,3)",
            "regularizer.l2=range(0,1,0.25)",
            "optimizer=sgd,adam",
            "trainer.max_epochs=2",
        ]
    )
    d = space.distributions
    assert d["regularizer.dropout"] == FloatDistribution(0.0, 0.8)
    assert d["regularizer.weight_decay"] == FloatDistribution(1e-5, 1e-2, log=True)
    assert d["model.hidden.0"] == IntDistribution(16, 64)
    assert d["seed"] == IntDistribution(0, 2)  # range() excludes its stop
    assert d["regularizer.l2"] == FloatDistribution(0.0, 0.75, step=0.25)
    assert d["optimizer"] == CategoricalDistribution(["sgd", "adam"])
    assert space.fixed == ["trainer.max_epochs=2"]
    assert space.overrides({"regularizer.dropout": 0.1}) == [
        "trainer.max_epochs=2",
        "regularizer.dropout=0.1",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.max_epochs=2"], "nothing to search"),
        (["regularizer.dropout=interval(0.5,0.1)"], "is empty"),
    ],
)
def test_search_space_errors(overrides, message):
    with pytest.raises(SearchSpaceError, match=message):
        parse_search_space(overrides)


def _search(tmp_path, n_trials: int, *extra: str):
    return run_main(
        [
            "hparams_search=dropout_weight_decay",
            *FAST,
            "logger=csv",
            f"hydra.sweeper.n_trials={n_trials}",
            f"hydra.sweeper.storage=sqlite:///{tmp_path / 'optuna.db'}",
            "hydra.sweeper.study_name=tiny",
            f"hydra.sweep.dir={tmp_path / 'search'}",
            *extra,
        ]
    )


def test_tiny_search_end_to_end_and_resume(tmp_path):
    first = _search(tmp_path, 3)
    assert first.returncode == 0, first.stderr[-3000:]
    sweep = tmp_path / "search"
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    values = {}
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        record = json.loads((job / "metrics.json").read_text())
        values[int(job.name)] = record["val/acc_best"]
        # each job ran the trial's sampled values
        overrides = dict(o.split("=", 1) for o in record["overrides"])
        trial = results["best_trial"] if int(job.name) == results["best_trial"] else None
        if trial is not None:
            assert float(overrides["regularizer.weight_decay"]) == pytest.approx(
                results["best_params"]["regularizer.weight_decay"]
            )
        assert 1e-6 <= float(overrides["regularizer.weight_decay"]) <= 1e-2
        assert 0 <= float(overrides["regularizer.dropout.0"]) <= 0.8
    assert sorted(values) == [0, 1, 2]
    assert results["trials"] == 3 and results["failed"] == 0
    assert results["best_value"] == pytest.approx(max(values.values()))
    assert values[results["best_trial"]] == pytest.approx(results["best_value"])
    rows = list(csv.DictReader((sweep / "trials.csv").read_text().splitlines()))
    assert [r["state"] for r in rows] == ["COMPLETE"] * 3
    assert (sweep / "summary.csv").is_file()  # the sweep report covers the trials too

    # Same command, one more trial: the stored study goes on; finished trials are not re-run.
    second = _search(tmp_path, 4)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "already has 3 trials" in second.stderr + second.stdout
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1", "2", "3"]
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["trials"] == 4
    # ... and continues the study: the new trial is not trial 0's parameters replayed (a
    # sampler seeded as the first run's draws them again)
    trials = list(csv.DictReader((sweep / "trials.csv").read_text().splitlines()))
    searched = ("regularizer.dropout.0", "regularizer.dropout.1", "regularizer.weight_decay")
    params = [tuple(float(t[k]) for k in searched) for t in trials]
    assert len(set(params)) == 4, params

    # The best trial's command runs once, as a single run.
    best = shlex.split(results["best_command"])[2:]
    single = run_main([*best, f"hydra.run.dir={tmp_path / 'best'}"])
    assert single.returncode == 0, single.stderr[-3000:]
    assert json.loads((tmp_path / "best" / "metrics.json").read_text())["status"] == "completed"


def test_failed_trials_are_marked_failed(tmp_path):
    # The metric does not exist: every trial stops before training, the search still ends
    # (and exits non-zero after its report, since its jobs failed).
    result = _search(tmp_path, 2, "optimized_metric=val/nonexistent")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "optimized_metric=val/nonexistent: not a metric" in result.stdout + result.stderr
    results = yaml.safe_load((tmp_path / "search" / "optimization_results.yaml").read_text())
    assert results["failed"] == 2 and "best_value" not in results


def test_grid_sampler_covers_choices_and_ranges():
    import optuna

    from hydra_plugins.reglab_optuna_sweeper.optuna_sweeper import OptunaSweeper
    from reglab.search.sampler import make_sampler

    space = parse_search_space(["optimizer=sgd,adam", "regularizer.l2=range(0,0.3,0.1)"])
    sampler, grid_size = make_sampler("grid", space, seed=0)
    assert grid_size == 6
    study = optuna.create_study(sampler=sampler, direction="maximize")
    seen = set()
    for _ in range(6):
        trial = study.ask(space.distributions)
        seen.add((trial.params["optimizer"], round(trial.params["regularizer.l2"], 6)))
        study.tell(trial, 0.0)
    assert seen == {(o, v) for o in ("sgd", "adam") for v in (0.0, 0.1, 0.2)}
    sweeper = OptunaSweeper("maximize", 100, 1, "grid", 0, None, None, {})
    sweeper._make_sampler(space, make_sampler)
    assert sweeper.n_trials == 6  # capped at the grid's size
    with pytest.raises(ValueError, match="sampler=grid needs choices or range"):
        make_sampler("grid", parse_search_space(["regularizer.l2=interval(0,1)"]), seed=0)
    with pytest.raises(ValueError, match="direction"):
        OptunaSweeper("up", 6, 1, "grid", 0, None, None, {})
