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
from reglab.loggers.wandb_offline import read_offline_run


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
    """No validation split: the per-epoch numbers are the test set's, named test/* in
    metrics.csv, metrics.json and W&B, with the best so far as test/acc_best; no val/* key."""
    record = run(make_config("protocol=d2l", "trainer.max_epochs=3"))  # W&B, offline
    rows = read_rows(tmp_path / "run" / "metrics.csv")
    accs = [float(r["test/acc"]) for r in rows]  # test accuracy every epoch
    assert len(rows) == 3 and all(0 <= a <= 1 for a in accs)
    assert [float(r["test/acc_best"]) for r in rows] == pytest.approx(
        [max(accs[: i + 1]) for i in range(3)]
    )
    assert record["tested_checkpoint"] == "last weights"
    assert record["test/acc"] == pytest.approx(accs[-1], abs=1e-6)
    assert record["test/loss"] == pytest.approx(float(rows[-1]["test/loss"]), abs=1e-6)
    assert record["test/acc_best"] == pytest.approx(max(accs))
    assert record["choices"]["protocol"] == "d2l"
    assert not (tmp_path / "run" / "checkpoints" / "best.ckpt").exists()  # nothing chosen on test
    (wandb_run,) = (tmp_path / "run").glob("wandb/offline-run-*")
    logged = read_offline_run(wandb_run)
    history = [h for h in logged.history if "test/acc" in h]
    assert [h["test/acc"] for h in history][:3] == pytest.approx(accs)
    keys = [*rows[0], *record, *(k for h in logged.history for k in h), *logged.summary]
    assert not any(str(k).startswith("val") for k in keys), keys


def test_d2l_replicas_log_test_keys_as_their_single_runs(make_config, tmp_path):
    run(make_config("protocol=d2l", "logger=csv", "trainer.max_epochs=2", "seed=0", "seeds=2"))
    single = make_config("protocol=d2l", "logger=csv", "trainer.max_epochs=2", "seed=0")
    single.paths.output_dir = str(tmp_path / "single")
    run(single)
    replica = read_rows(tmp_path / "run" / "seed_0" / "metrics.csv")
    alone = read_rows(tmp_path / "single" / "metrics.csv")
    assert set(replica[0]) == set(alone[0]) and "test/acc" in alone[0]
    assert not any(k.startswith("val/") for k in alone[0])
    for mine, theirs in zip(replica, alone, strict=True):
        assert float(mine["test/acc"]) == pytest.approx(float(theirs["test/acc"]), abs=1e-5)


def test_d2l_monitors_name_the_test_keys(make_config):
    """A monitor names what the run logs: under d2l, test/acc (val/acc does not exist)."""
    with pytest.raises(ConfigError, match="the test set is evaluated every epoch, as test/acc"):
        run(make_config("protocol=d2l", "+callbacks.model_checkpoint.monitor=val/acc"))
    with pytest.raises(ConfigError, match="protocol=d2l has no validation split"):
        validate_config(
            make_config(
                "protocol=d2l",
                "regularizer=early_stopping",
                "regularizer.early_stopping.monitor=test/loss",
            )
        )


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


def test_a_d2l_sweep_report_reads_the_test_columns(make_config, tmp_path, monkeypatch):
    """The report's columns and figure axes under d2l name test/*, as the runs logged them."""
    import matplotlib.figure
    import yaml

    from reglab.report.build import build_report

    sweep = tmp_path / "sweep"
    for seed in (0, 1):
        cfg = make_config("protocol=d2l", "logger=csv", "trainer.max_epochs=2", f"seed={seed}")
        cfg.paths.output_dir = str(sweep / str(seed))
        run(cfg)
        (sweep / str(seed) / ".hydra").mkdir()
        (sweep / str(seed) / ".hydra" / "overrides.yaml").write_text(
            yaml.safe_dump(["protocol=d2l", f"seed={seed}"])
        )
    labels: dict[str, list[str]] = {}
    save = matplotlib.figure.Figure.savefig

    def record_labels(fig, path, *args, **kwargs):
        texts = [t for ax in fig.axes for t in (ax.get_title(), ax.get_ylabel())]
        labels[fig.get_label()] = texts  # save_figure names a figure by its file's stem
        return save(fig, path, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record_labels)
    build_report(sweep)
    with open(sweep / "summary.csv") as f:
        header = f.readline()
    assert "test/acc_mean" in header and "val/" not in header
    assert any(t.startswith("test accuracy") for t in labels["curves_by_config"])
    assert not any("val" in t for texts in labels.values() for t in texts), labels
