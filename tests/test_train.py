"""End-to-end runs on small data in the real format: files, metrics, W&B, reproducibility."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reglab.app.job import run
from reglab.loggers.wandb_offline import read_offline_run

from .conftest import REPO, run_main


def read_csv(path: Path) -> list[dict]:
    with open(path) as f:
        return [{k: float(v) if v else None for k, v in row.items()} for row in csv.DictReader(f)]


def offline_runs(output_dir: Path) -> list[Path]:
    return sorted(output_dir.glob("wandb/offline-run-*"))


def test_run_writes_every_result_file_and_an_offline_wandb_run(make_config, tmp_path):
    cfg = make_config("regularizer=dropout", "trainer.max_epochs=2")
    record = run(cfg)
    out = tmp_path / "run"

    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(record))
    assert metrics["status"] == "completed" and metrics["epochs"] == 2
    assert metrics["wall_seconds"] > 0
    assert metrics["choices"]["regularizer"] == "dropout"
    # The synthetic classes are bright bands: two epochs must learn them.
    assert metrics["test/acc"] > 0.9
    assert metrics["val/acc_best"] >= metrics["val/acc"] - 1e-9

    rows = read_csv(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("train/loss", "train/acc", "train/penalty", "val/loss", "val/acc", "val/acc_best"):
        assert all(r[key] is not None for r in rows), key
    assert rows[1]["train/loss"] < rows[0]["train/loss"]
    assert rows[-1]["val/acc"] == pytest.approx(metrics["val/acc"])

    png = (out / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert (out / "checkpoints" / "best.ckpt").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert metrics["tested_checkpoint"].endswith("best.ckpt")

    # W&B (offline): read the run file back and compare with what reglab wrote.
    [wandb_dir] = offline_runs(out)
    wb = read_offline_run(wandb_dir)
    assert wb.name == "mlp-dropout-fashion_mnist"
    assert wb.config["choices"]["regularizer"] == "dropout"
    assert wb.config["regularizer"]["dropout"] == [0.2, 0.5]
    assert wb.config["model"]["hidden"] == [256, 256]
    logged_val_acc = [h["val/acc"] for h in wb.history if "val/acc" in h]
    assert logged_val_acc == pytest.approx([r["val/acc"] for r in rows])
    assert wb.summary["test/acc"] == pytest.approx(metrics["test/acc"])


def test_same_seed_same_numbers_other_seed_other_numbers(make_config):
    def final(seed: int) -> dict:
        record = run(make_config("logger=csv", "regularizer=dropout", f"seed={seed}"))
        return {k: v for k, v in record.items() if k.startswith(("train/", "val/", "test/"))}

    first, again, other = final(3), final(3), final(4)
    assert first == again
    assert first != other


def test_explicit_penalty_is_logged_and_added(make_config, tmp_path):
    run(make_config("logger=csv", "regularizer=l2", "regularizer.l2=0.01"))
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    assert rows[0]["train/penalty"] > 0


def test_weight_decay_reaches_the_optimizer_weights_only(make_config, monkeypatch):
    import reglab.lit.module as module

    seen = {}
    original = module.RegLabModule.configure_optimizers

    def spy(self):
        optimizer = original(self)
        seen["groups"] = [(len(g["params"]), g["weight_decay"]) for g in optimizer.param_groups]
        return optimizer

    monkeypatch.setattr(module.RegLabModule, "configure_optimizers", spy)
    run(make_config("logger=csv", "regularizer=weight_decay", "regularizer.weight_decay=0.01"))
    # 3 Linear weights decay; 3 biases do not.
    assert seen["groups"] == [(3, 0.01), (3, 0.0)]


def test_missing_data_stops_with_a_clear_error(tmp_path):
    result = run_main(
        ["logger=csv", f"paths.data_dir={tmp_path / 'none'}", "dataset.download=false"]
    )
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert f"looked in {tmp_path / 'none' / 'FashionMNIST' / 'raw'}" in output
    assert "DATA_DIR" in output and "Traceback" not in output


def test_two_runs_started_together_get_their_own_folders(tmp_path):
    command = [
        sys.executable,
        str(REPO / "train.py"),
        "debug=limit",
        "logger=csv",
        "dataset.val_size=100",
    ]
    env = {**os.environ, "REGLAB_LOG_DIR": str(tmp_path / "logs")}
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
    assert [proc.wait(timeout=300) for proc in procs] == [0, 0]
    runs = sorted((tmp_path / "logs" / "debug" / "runs").iterdir())
    assert len(runs) == 2
    assert all((run_dir / "metrics.json").is_file() for run_dir in runs)


def test_multirun_gives_each_job_its_own_folder_and_wandb_run(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main(
        [
            "-m",
            "regularizer=none,dropout",
            "dataset.val_size=100",
            "dataset.batch_size=64",
            "trainer.max_epochs=1",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = []
    for job, regularizer in ((0, "none"), (1, "dropout")):
        metrics = json.loads((sweep / str(job) / "metrics.json").read_text())
        assert metrics["status"] == "completed"
        assert metrics["choices"]["regularizer"] == regularizer
        [wandb_dir] = offline_runs(sweep / str(job))
        runs.append(read_offline_run(wandb_dir))
    assert runs[0].run_id != runs[1].run_id
    assert runs[0].group == runs[1].group == "sweep"
    assert [r.config["choices"]["regularizer"] for r in runs] == ["none", "dropout"]


@pytest.mark.slow
def test_d2l_dropout_mlp_reaches_85_percent_on_real_fashion_mnist(tmp_path):
    """d2l 4.6: `train.py regularizer=dropout model=mlp optimizer.lr=0.5`, 10 epochs."""
    import os

    from reglab.config.compose import compose_config
    from reglab.data.fashion_mnist import find_files

    real = os.environ.get("REGLAB_REAL_DATA_DIR", str(REPO.parent / "shared" / "data"))
    if not find_files(Path(real)):
        pytest.skip(f"real Fashion-MNIST not found in {real}")
    cfg = compose_config(
        [
            "regularizer=dropout",
            "model=mlp",
            "optimizer.lr=0.5",
            "logger=csv",
            f"paths.data_dir={real}",
        ],
        tmp_path / "run",
    )
    assert run(cfg)["test/acc"] >= 0.85


def test_early_stopping_stops_on_a_plateau_and_tests_the_best_checkpoint(make_config, tmp_path):
    # lr 1e-9: the validation loss moves by far less than min_delta, a plateau from epoch 1.
    record = run(
        make_config(
            "logger=csv",
            "regularizer=early_stopping",
            "regularizer.early_stopping.patience=2",
            "regularizer.early_stopping.min_delta=0.001",
            "optimizer.lr=1e-9",
            "trainer.max_epochs=10",
        )
    )
    assert record["epochs"] == 3
    stop = record["early_stopping"]
    assert stop["stopped"] and stop["stopped_epoch"] == 3
    assert "did not improve" in stop["reason"] and "val/loss" in stop["reason"]
    assert record["tested_checkpoint"].endswith("best.ckpt")
    assert record["choices"]["regularizer"] == "early_stopping"
    assert len(read_csv(tmp_path / "run" / "metrics.csv")) == 3


@pytest.mark.parametrize(
    "overrides",
    [
        ["dataset.batch_size=64", "dataset.val_size=100"],  # Lightning steps the schedule
        ["dataset=poly", "model=linear", "optimizer.lr=0.01"],  # fused: reglab steps it
    ],
)
def test_lr_decay_lowers_the_learning_rate_each_epoch(make_config, tmp_path, overrides):
    run(
        make_config(
            *overrides,
            "logger=csv",
            "regularizer=lr_decay",
            "regularizer.lr_decay.step_size=1",
            "regularizer.lr_decay.gamma=0.5",
            "trainer.max_epochs=3",
            fast=False,
        )
    )
    lrs = [row["train/lr"] for row in read_csv(tmp_path / "run" / "metrics.csv")]
    start = lrs[0]
    assert lrs == pytest.approx([start, start / 2, start / 4])


def test_hardware_compile_wraps_the_inner_model(make_config, tmp_path, monkeypatch):
    """hardware.compile=true hands the nn.Module to torch.compile (the real compile is in the
    slow test below: it needs a C++ toolchain and ~20 s)."""
    import torch

    compiled = []

    def fake_compile(net, *args, **kwargs):
        compiled.append(type(net).__name__)
        return net

    monkeypatch.setattr(torch, "compile", fake_compile)
    record = run(make_config("hardware.compile=true", "logger=csv"))
    assert compiled == ["MLP"] and record["status"] == "completed"


@pytest.mark.slow
def test_hardware_compile_really_compiles(make_config):

    record = run(make_config("hardware.compile=true", "logger=csv"))
    assert record["status"] == "completed" and record["test/acc"] > 0.5


def test_bf16_mixed_precision_runs_on_cpu(make_config):
    record = run(make_config("hardware.precision=bf16-mixed", "logger=csv"))
    assert record["status"] == "completed" and record["test/acc"] > 0.3
