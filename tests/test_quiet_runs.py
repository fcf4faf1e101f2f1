"""Runs that say only what matters: no validation split without Lightning's warnings, no
optimized_metric error outside a search, threads shared among parallel processes."""

import logging
import warnings

from reglab.app.job import handle_run
from reglab.config.compose import compose_config

from .conftest import FAST


def test_no_validation_split_trains_quietly(tmp_path, caplog):
    out = tmp_path / "run"
    cfg = compose_config([*FAST, "dataset.val_size=0", "trainer.max_epochs=2", "logger=csv"], out)
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.INFO):
        warnings.simplefilter("always")
        value = handle_run(cfg)
    messages = [str(w.message) for w in caught] + [r.getMessage() for r in caplog.records]
    for noise in ("across ranks is zero", "could not find the monitored key", "optimized_metric"):
        assert not any(noise in m for m in messages), noise
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert value is None  # nothing to optimise, and nothing to complain about
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["last.ckpt"]
    import json

    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "completed" and record["tested_checkpoint"] == "last weights"
    assert "test/acc" in record and not any(k.startswith("val/") for k in record)


def test_threads_are_shared_among_parallel_processes(tmp_path, monkeypatch):
    import reglab.threads as threads

    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    compose_config(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], tmp_path / "run")
    assert threads.parallel_jobs() == 2
    assert threads.threads_per_process(None, processes_per_job=1) == 4
    assert threads.threads_per_process(None, processes_per_job=2) == 2  # ddp_cpu ranks
    assert threads.threads_per_process(3, processes_per_job=2) == 3  # hardware.threads wins
    compose_config([], tmp_path / "run")
    assert threads.parallel_jobs() == 1
    assert threads.threads_per_process(None, processes_per_job=1) == 8


def test_one_epoch_series_are_drawn_with_markers(tmp_path, monkeypatch):
    """A sweep of 1 epoch has one point per curve: a line without markers draws nothing."""
    from pathlib import Path

    from reglab.callbacks import activations
    from reglab.report import compare, figures
    from reglab.report.jobs import Job
    from reglab.report.summary import ConfigSummary

    drawn = []

    def keep(fig, path):
        drawn.append(fig)
        return Path(path)

    monkeypatch.setattr(figures, "save_figure", keep)
    monkeypatch.setattr(compare, "save_figure", keep)
    rows = [{"epoch": 1.0, "train/loss": 0.5, "val/loss": 0.6, "val/acc": 0.8}]
    jobs = [
        Job(tmp_path / str(i), [f"seed={i}"], {"status": "completed"}, rows, f"seed={i}")
        for i in range(2)
    ]
    compare.plot_learning_curves(jobs, tmp_path / "comparison.png")
    figures.plot_curves_by_config([ConfigSummary(("x=1",), jobs)], ["x"], tmp_path / "c.png")
    history = [
        {
            "epoch": 1,
            **{f"act/{s}/hidden_1/{m}": 1.0 for s in ("mean", "var") for m in ("train", "eval")},
        }
    ]
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "close", lambda fig: drawn.append(fig))  # keep it to look at
    activations.plot_activation_stats(history, tmp_path / "activation_stats.png")
    lines = [line for fig in drawn for ax in fig.axes for line in ax.get_lines()]
    assert len(lines) >= 2 + 2 + 1 + 4
    assert all(line.get_marker() not in (None, "None", "") for line in lines)


def test_only_wandbs_anonymous_warning_is_dropped(monkeypatch):
    import wandb

    from reglab.loggers.wandb import _without_anonymous_warning

    shown = []
    monkeypatch.setattr(wandb, "termwarn", lambda string, **kwargs: shown.append(string))
    recorder = wandb.termwarn
    with _without_anonymous_warning():
        wandb.termwarn("The anonymous setting has no effect and will be removed", repeat=False)
        wandb.termwarn("something that matters")
    assert shown == ["something that matters"]
    assert wandb.termwarn is recorder  # restored
