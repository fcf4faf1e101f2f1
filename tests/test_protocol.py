"""protocol=d2l (all training images, the test set every epoch, the last epoch reported), the
per-epoch test curve, and dataset.train_size."""

import csv
import json

import pytest

from reglab.app.job import run
from reglab.app.settings import validate_config
from reglab.config.errors import ConfigError
from reglab.data.build import build_datamodule
from reglab.data.protocol import apply_protocol


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_d2l_trains_on_all_images_and_evaluates_the_test_set(make_config):
    settings = validate_config(make_config("protocol=d2l"))
    dm = build_datamodule(settings.dataset, seed=0)
    apply_protocol(dm, settings.protocol)
    dm.setup()
    assert dm.splits.sizes() == {"train": 600, "val": 200, "test": 200}  # 500 + 100 held out
    assert dm.splits.x_val is dm.splits.x_test and dm.info.val_is_test
    default = build_datamodule(validate_config(make_config()).dataset, seed=0)
    default.setup()
    assert default.splits.sizes() == {"train": 500, "val": 100, "test": 200}
    assert not default.info.val_is_test


def test_d2l_reports_the_last_epochs_test_accuracy(make_config, tmp_path):
    record = run(make_config("protocol=d2l", "logger=csv", "trainer.max_epochs=3"))
    rows = read_rows(tmp_path / "run" / "metrics.csv")
    assert len(rows) == 3 and all(r["val/acc"] for r in rows)  # test accuracy every epoch
    assert record["tested_checkpoint"] == "last weights"
    assert record["test/acc"] == pytest.approx(float(rows[-1]["val/acc"]), abs=1e-6)
    assert record["choices"]["protocol"] == "d2l"
    assert not (tmp_path / "run" / "checkpoints" / "best.ckpt").exists()  # nothing chosen on test


def test_d2l_refuses_early_stopping_on_the_test_set(make_config):
    with pytest.raises(ConfigError, match="protocol=d2l"):
        validate_config(make_config("protocol=d2l", "regularizer=early_stopping"))
    with pytest.raises(ConfigError, match=r"protocol\.name"):
        validate_config(make_config("protocol.name=d2l_style"))


def test_test_curve_logs_the_test_set_every_epoch_without_choosing_on_it(make_config, tmp_path):
    record = run(
        make_config(
            "logger=csv",
            "trainer.max_epochs=2",
            "+callbacks.test_curve._target_=reglab.callbacks.test_curve.TestCurve",
            "+callbacks.grad_norm_epoch._target_=reglab.callbacks.grad_norm_epoch.EpochGradNorm",
        )
    )
    rows = read_rows(tmp_path / "run" / "metrics.csv")
    accs = [float(r["test_curve/acc"]) for r in rows]
    assert len(accs) == 2 and all(0 <= a <= 1 for a in accs)
    # the test of the best checkpoint equals the test curve at that checkpoint's epoch
    best = max(range(2), key=lambda i: (float(rows[i]["val/acc"]), -i))
    assert record["test/acc"] == pytest.approx(accs[best], abs=1e-6)
    norms = [(float(r["train/grad_norm_mean"]), float(r["train/grad_norm_max"])) for r in rows]
    assert all(0 < mean <= peak for mean, peak in norms)


def test_train_size_takes_a_fixed_subset(make_config):
    settings = validate_config(make_config("dataset.train_size=50"))
    dm = build_datamodule(settings.dataset, seed=0)
    dm.setup()
    full = build_datamodule(validate_config(make_config()).dataset, seed=3)
    full.setup()
    assert len(dm.splits.x_train) == 50
    assert (dm.splits.x_train == full.splits.x_train[:50]).all()  # the same images per seed
    with pytest.raises(ConfigError, match=r"dataset\.train_size=59500"):
        validate_config(make_config("dataset.train_size=59500", "dataset.val_size=1000"))


def test_metrics_json_keeps_the_choice(make_config, tmp_path):
    run(make_config("logger=csv"))
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["choices"]["protocol"] == "default"
