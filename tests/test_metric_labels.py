"""Every logged number is what its label says: each key family against an independent
computation (the lr an epoch trained with, the split a stage names, the best so far, ...)."""

import csv
import json
from pathlib import Path

import pytest

from reglab.app.job import run


def read_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: float(v) if v else None for k, v in row.items()} for row in csv.DictReader(f)]


LR_DECAY = [
    "logger=csv",
    "regularizer=lr_decay",
    "regularizer.lr_decay.step_size=1",
    "regularizer.lr_decay.gamma=0.1",
    "trainer.max_epochs=3",
]


def test_train_lr_is_the_lr_each_epoch_trained_with(make_config, tmp_path):
    """Epoch k trains at base * gamma^k; epoch 1 trains at the base lr, so its loss equals the
    undecayed run's (before the fix, epoch 1 showed 0.01 though it trained at 0.1)."""
    decayed = make_config(*LR_DECAY)
    run(decayed)
    plain = make_config("logger=csv", "trainer.max_epochs=1")
    plain.paths.output_dir = str(tmp_path / "plain")
    run(plain)
    rows = read_rows(tmp_path / "run" / "metrics.csv")
    base = 0.1  # optimizer=sgd
    assert [r["train/lr"] for r in rows] == pytest.approx([base, base * 0.1, base * 0.01])
    first = read_rows(tmp_path / "plain" / "metrics.csv")[0]
    assert first["train/lr"] == pytest.approx(base)
    assert rows[0]["train/loss"] == pytest.approx(first["train/loss"], rel=1e-6)
    assert rows[1]["train/loss"] != pytest.approx(first["train/loss"], rel=1e-3)


def test_replicas_log_the_same_lr_as_single_runs(make_config, tmp_path):
    run(make_config(*LR_DECAY, "seed=0", "seeds=2", "model.hidden=[32]"))
    single = make_config(*LR_DECAY, "seed=0", "model.hidden=[32]")
    single.paths.output_dir = str(tmp_path / "single")
    run(single)
    replica = read_rows(tmp_path / "run" / "seed_0" / "metrics.csv")
    alone = read_rows(tmp_path / "single" / "metrics.csv")
    assert [r["train/lr"] for r in replica] == pytest.approx([0.1, 0.01, 0.001])
    assert [r["train/lr"] for r in alone] == pytest.approx([0.1, 0.01, 0.001])
    assert json.loads((tmp_path / "single" / "metrics.json").read_text())["train/lr"] == (
        pytest.approx(0.001)
    )
