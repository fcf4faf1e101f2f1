"""reglab's instruments under seeds=N: replica k's values land where the single run seed=k's
land (its metrics.csv columns, its files), with the single run's numbers."""

import csv
import json
from pathlib import Path

import pytest

from reglab.app.job import run

SMALL_MLP = ["model.hidden=[32]", "logger=csv", "trainer.max_epochs=2"]
GRAD_AND_TEST_CURVE = [
    "+callbacks.grad_norm_epoch._target_=reglab.callbacks.grad_norm_epoch.EpochGradNorm",
    "+callbacks.test_curve._target_=reglab.callbacks.test_curve.TestCurve",
]


def _rows(folder: Path) -> list[dict]:
    with open(folder / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _single_runs(make_config, tmp_path, overrides, seeds) -> dict[int, Path]:
    folders = {}
    for seed in seeds:
        cfg = make_config(f"seed={seed}", *overrides)
        cfg.paths.output_dir = str(tmp_path / f"single{seed}")
        assert run(cfg)["status"] == "completed"
        folders[seed] = tmp_path / f"single{seed}"
    return folders


def _assert_columns_equal(mine: list[dict], theirs: list[dict], prefixes: tuple, tol: float):
    assert list(mine[0]) == list(theirs[0])  # the same columns, in the same order
    assert len(mine) == len(theirs)
    checked = 0
    for my_row, their_row in zip(mine, theirs, strict=True):
        for key, value in their_row.items():
            if key.startswith(prefixes):
                assert float(my_row[key]) == pytest.approx(float(value), abs=tol, rel=tol), key
                checked += 1
    assert checked, prefixes


def test_grad_norm_epoch_and_test_curve_per_replica_equal_single_runs(make_config, tmp_path):
    """experiment=dropout_table's instruments: replica k's train/grad_norm_* and test_curve/*
    columns are the single run seed=k's."""
    overrides = [*SMALL_MLP, *GRAD_AND_TEST_CURVE]
    record = run(make_config("seed=0", "seeds=2", *overrides))
    assert record["replica_status"] == ["completed", "completed"]
    singles = _single_runs(make_config, tmp_path, overrides, (0, 1))
    columns = ("train/grad_norm_mean", "train/grad_norm_max", "test_curve/loss", "test_curve/acc")
    for seed, single in singles.items():
        mine, theirs = _rows(tmp_path / "run" / f"seed_{seed}"), _rows(single)
        assert set(columns) <= set(theirs[0])
        _assert_columns_equal(mine, theirs, columns, tol=1e-5)
    # the replicas differ from each other: each is measured on its own weights
    rows0, rows1 = _rows(tmp_path / "run" / "seed_0"), _rows(tmp_path / "run" / "seed_1")
    assert rows0[-1]["train/grad_norm_max"] != rows1[-1]["train/grad_norm_max"]
    assert rows0[-1]["test_curve/loss"] != rows1[-1]["test_curve/loss"]


def test_weight_norms_and_activation_stats_per_replica(make_config, tmp_path):
    """callbacks=instruments' weight norms and activation statistics: replica k's columns
    are the single run seed=k's; each replica's activation_stats.png is in its folder."""
    instruments = ["callbacks=instruments", "callbacks.grad_norm=null"]
    instruments += ["callbacks.per_class_accuracy=null", "callbacks.histograms=null"]
    overrides = ["model.hidden=[16,8]", "logger=csv", "trainer.max_epochs=2", *instruments]
    record = run(make_config("seed=0", "seeds=2", *overrides))
    assert record["replica_status"] == ["completed", "completed"]
    singles = _single_runs(make_config, tmp_path, overrides, (1,))
    mine, theirs = _rows(tmp_path / "run" / "seed_1"), _rows(singles[1])
    assert {"weights/norm/output", "act/var/hidden_2/train"} <= set(theirs[0])
    # without dropout, train mode draws nothing: every column is the single run's
    _assert_columns_equal(mine, theirs, ("weights/norm/", "act/"), tol=1e-5)
    for seed in (0, 1):
        png = tmp_path / "run" / f"seed_{seed}" / "activation_stats.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "run" / "activation_stats.png").exists()


def test_per_class_accuracy_per_replica(make_config, tmp_path):
    """Each replica's per-class table and chart in its folder, its test/class_acc/* in its
    metrics.json: the single run seed=k's numbers."""
    per_class = "+callbacks.per_class._target_=reglab.callbacks.per_class.PerClassAccuracy"
    output_dir = "+callbacks.per_class.output_dir=${paths.output_dir}"
    # a small learning rate keeps accuracy off its ceiling: classes and replicas differ
    overrides = ["model.hidden=[16]", "optimizer.lr=0.003", "logger=csv", per_class, output_dir]
    record = run(make_config("seed=0", "seeds=2", *overrides))
    assert record["replica_status"] == ["completed", "completed"]
    singles = _single_runs(make_config, tmp_path, overrides, (1,))
    mine_folder = tmp_path / "run" / "seed_1"
    mine, theirs = _rows_of(mine_folder), _rows_of(singles[1])
    assert [r["class"] for r in mine] == [r["class"] for r in theirs] and len(mine) == 10
    assert any(float(r["accuracy"]) < 1 for r in mine)  # off the ceiling: a real comparison
    for my_row, their_row in zip(mine, theirs, strict=True):
        assert (my_row["correct"], my_row["total"]) == (their_row["correct"], their_row["total"])
    my_record = json.loads((mine_folder / "metrics.json").read_text())
    their_record = json.loads((singles[1] / "metrics.json").read_text())
    class_keys = [k for k in their_record if k.startswith("test/class_acc/")]
    assert len(class_keys) == 10
    for key in class_keys:
        assert my_record[key] == pytest.approx(their_record[key], abs=1e-6), key
    overall = sum(int(r["correct"]) for r in mine) / sum(int(r["total"]) for r in mine)
    assert overall == pytest.approx(my_record["test/acc"])
    assert (mine_folder / "per_class_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    assert not (tmp_path / "run" / "per_class_accuracy.csv").exists()
    seed_0 = _rows_of(tmp_path / "run" / "seed_0")
    assert [r["correct"] for r in seed_0] != [r["correct"] for r in mine]  # its own weights


def _rows_of(folder: Path) -> list[dict]:
    with open(folder / "per_class_accuracy.csv") as f:
        return list(csv.DictReader(f))
