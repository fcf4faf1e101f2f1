"""Sweep folders with known numbers, written in the real formats (what a multirun leaves):
the figure tests and scripts/figure_gallery.py draw the report of these.

A grid sweep: `configs` configurations x `seeds` seeds of an MLP classifier, per-epoch rows,
final metrics and a last.ckpt per job. A search: one job per trial, parameters with all the
digits a sampler gives (`regularizer.dropout=0.35006976901234567`).
"""

import csv
import json
import math
from pathlib import Path

import torch
import yaml

EPOCHS = 12
LAYERS = {"net.layers.0.weight": (48, 20), "net.layers.2.weight": (24, 48)}
LAYERS |= {"net.layers.4.weight": (10, 24)}
REGULARIZERS = ("none", "dropout", "weight_decay", "l1", "l2", "noise", "dropconnect", "augment")


def write_job(
    sweep: Path,
    number: int,
    overrides: list[str],
    metrics: dict,
    rows: list[dict],
    weights: dict[str, torch.Tensor] | None = None,
    task: str = "train",
) -> Path:
    job = sweep / str(number)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"task_name": task}))
    (job / "metrics.json").write_text(json.dumps({"status": "completed", **metrics}))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(job / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    if weights:
        (job / "checkpoints").mkdir()
        torch.save({"state_dict": weights}, job / "checkpoints" / "last.ckpt")
    return job


# A run's metrics.csv rows, for its curves.png (the figure tests, scripts/bench_figures.py):
# 40 epochs of classification, every quantity a panel, the penalty's tick labels wide
CLASSIFICATION_RUN = [
    {
        "epoch": e,
        "train/loss": 1 / (e + 1),
        "val/loss": 1.1 / (e + 1),
        "train/acc": 0.5 + e / 100,
        "val/acc": 0.5 + e / 110,
        "train/loss_max": 2 / (e + 1),
        "train/lr": 0.01 * 0.9**e,
        "train/penalty": 12345.678 * e,  # wide tick labels
        "train/w_norm": 3 + e * 0.1,
    }
    for e in range(1, 41)
]
# 2,000 epochs of a regression whose loss spans decades (a log axis), the course's toy run
REGRESSION_RUN = [
    {
        "epoch": e,
        "train/loss": 10 ** (-e / 200),
        "val/loss": 1.1 * 10 ** (-e / 250),
        "train/loss_max": 2 / (e + 1),
        "train/lr": 1e-5,
    }
    for e in range(1, 2001)
]


def _rows(quality: float, seed: int, reaches_zero: bool) -> list[dict]:
    """Per-epoch curves: training loss falls over three decades; `reaches_zero` ends at 0.0
    (a run that memorised its training set), which a log axis cannot show."""
    rows = []
    for epoch in range(1, EPOCHS + 1):
        wiggle = 0.01 * math.sin(3 * epoch + seed)
        train_loss = 2.3 * math.exp(-(0.45 + 0.1 * quality) * epoch) + 0.001 * (1 - quality)
        if reaches_zero and epoch == EPOCHS:
            train_loss = 0.0
        val_loss = 0.45 + 0.3 / epoch - 0.1 * quality + wiggle
        rows.append(
            {
                "epoch": epoch,
                "train/loss": train_loss,
                "train/acc": min(1.0, 0.7 + 0.025 * epoch + 0.01 * quality),
                "val/loss": val_loss,
                "val/acc": 0.80 + 0.03 * quality - 0.1 / epoch + wiggle,
            }
        )
    return rows


def _weights(scale: float, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {
        name: scale * torch.randn(*shape, generator=generator) for name, shape in LAYERS.items()
    }


def grid_sweep(sweep: Path, configs: int, seeds: int) -> Path:
    """`regularizer=<name>` (and, past the named ones, a weight-decay value) x `seed=`."""
    sweep.mkdir(parents=True, exist_ok=True)
    number = 0
    for c in range(configs):
        name = REGULARIZERS[c % len(REGULARIZERS)]
        overrides = [f"regularizer={name}"]
        if configs > len(REGULARIZERS):
            overrides.append(f"regularizer.weight_decay={[0.0, 1e-4, 1e-3][c // 8 % 3]}")
        quality = c / max(configs - 1, 1)
        for seed in range(seeds):
            rows = _rows(quality, seed, reaches_zero=c == 0)
            test_acc = 0.84 + 0.02 * quality + 0.004 * math.sin(seed + c)
            metrics = {
                "test/acc": test_acc,
                "test/loss": 0.45 - 0.05 * quality,
                "val/acc_best": max(r["val/acc"] for r in rows),
                "train/loss": rows[-1]["train/loss"],
                "epochs": EPOCHS,
            }
            weights = _weights(1.0 / (1 + 3 * quality), seed + 100 * c)
            write_job(sweep, number, [*overrides, f"seed={seed}"], metrics, rows, weights)
            number += 1
    return sweep


def search_sweep(sweep: Path, trials: int) -> Path:
    """An Optuna-style search: every trial its own configuration, sampled floats in full."""
    sweep.mkdir(parents=True, exist_ok=True)
    for t in range(trials):
        dropout = 0.05 + 0.7 * ((t * 0.618033988749895) % 1.0) + 1e-9 * math.pi
        decay = 10 ** (-6 + 4 * ((t * 0.7548776662466927) % 1.0))
        quality = 1 - abs(dropout - 0.4) - 0.1 * abs(math.log10(decay) + 4)
        rows = _rows(quality, t, reaches_zero=False)
        metrics = {
            "test/acc": 0.82 + 0.05 * quality,
            "val/acc_best": 0.83 + 0.05 * quality,
            "train/loss": rows[-1]["train/loss"],
            "epochs": EPOCHS,
        }
        overrides = [f"regularizer.dropout.0={dropout!r}", f"regularizer.weight_decay={decay!r}"]
        write_job(sweep, t, overrides, metrics, rows, _weights(1.0 - 0.5 * quality, t))
    return sweep
