"""Instruments (callbacks that look inside a run) and the divergence guard."""

import csv
import json

import pytest
import torch

from reglab.app.job import run
from reglab.callbacks.divergence import DivergenceError, DivergenceGuard
from reglab.config.compose import option
from reglab.loggers.wandb_offline import read_offline_run


def rows(path) -> list[dict]:
    return list(csv.DictReader(path.read_text().splitlines()))


def test_divergence_guard_stops_with_a_message_and_keeps_the_files(make_config, tmp_path):
    # d2l 4.5's data at lr 0.1 blows up: the loss overflows to inf in epoch 18.
    record = run(
        make_config(
            "dataset=linear",
            "model=linear",
            "optimizer.lr=0.1",
            "trainer.max_epochs=40",
            "logger=csv",
            fast=False,
        )
    )
    out = tmp_path / "run"
    assert record["status"] == "diverged"
    div = record["divergence"]
    assert div["kind"] == "loss" and div["epoch"] == 18 and div["step"] == 68
    assert "epoch 18, step 68" in record["message"] and "not finite" in record["message"]
    saved = json.loads((out / "metrics.json").read_text())  # valid JSON: inf as a string
    assert saved["status"] == "diverged" and saved["divergence"]["value"] == "inf"
    assert len(rows(out / "metrics.csv")) == 17  # every finished epoch
    assert (out / "checkpoints" / "last.ckpt").is_file() and (out / "curves.png").is_file()


def test_gradient_bound_names_the_value():
    guard = DivergenceGuard(max_grad_norm=1.0)
    net = torch.nn.Linear(2, 1)
    for p in net.parameters():
        p.grad = torch.full_like(p, 10.0)

    class Trainer:
        current_epoch, global_step = 2, 41

    with pytest.raises(
        DivergenceError, match=r"gradient norm exploded: 17.32.*bound 1.*epoch 3, step 41"
    ):
        guard.on_before_optimizer_step(Trainer(), net, None)
    with pytest.raises(ValueError, match="max_grad_norm"):
        DivergenceGuard(max_grad_norm=0)


def test_weight_and_grad_norms_reach_csv_and_wandb(make_config, tmp_path):
    run(
        make_config(
            "callbacks=instruments", "callbacks.grad_norm.every_n_steps=2", "trainer.max_epochs=2"
        )
    )
    out = tmp_path / "run"
    table = rows(out / "metrics.csv")
    for layer in ("hidden_1", "hidden_2", "output"):
        assert all(float(r[f"weights/norm/{layer}"]) > 0 for r in table)
    [wandb_dir] = sorted(out.glob("wandb/offline-run-*"))
    history = read_offline_run(wandb_dir).history
    grad_norms = [h["train/grad_norm"] for h in history if "train/grad_norm" in h]
    assert len(grad_norms) == 8  # 16 optimizer steps over 2 epochs, every 2nd one
    assert all(g > 0 for g in grad_norms)
    last_norm = [h["weights/norm/output"] for h in history if "weights/norm/output" in h][-1]
    assert last_norm == pytest.approx(float(table[-1]["weights/norm/output"]))


def test_activation_stats_match_a_hand_computation():
    from reglab.callbacks.activations import hidden_activation_stats
    from reglab.models.build import build_model
    from reglab.models.config import MLPConfig
    from reglab.regularizers.config import RegularizerConfig
    from reglab.regularizers.regularization import Regularization

    torch.manual_seed(0)
    net = build_model(
        MLPConfig(**option("model", "mlp") | dict(hidden=[16, 8])),
        (5,),
        3,
        Regularization(RegularizerConfig(dropout=0.5)),
    ).eval()
    x = torch.randn(64, 5)
    h1 = torch.relu(x @ net.layers[1].weight.T + net.layers[1].bias)
    h2 = torch.relu(h1 @ net.layers[4].weight.T + net.layers[4].bias)
    by_layer = hidden_activation_stats(net, x)
    assert list(by_layer) == ["hidden_1", "hidden_2"]
    stats = [v for pair in by_layer.values() for v in pair]
    expected = [v for h in (h1, h2) for v in (h.mean().item(), h.var(unbiased=False).item())]
    assert stats == pytest.approx(expected, rel=1e-5)
    # train mode: dropout zeroes half the units and doubles the rest, raising the variance
    net.train()
    assert hidden_activation_stats(net, x)["hidden_1"][1] > 1.5 * expected[1]


def test_instruments_do_not_change_the_run(make_config, tmp_path):
    """Same seed, instruments on or off: the same numbers (their measurements restore the RNG)."""
    from reglab.config.compose import compose_config

    results = []
    for callbacks in ("default", "instruments"):
        cfg = compose_config(
            [
                "regularizer=[dropout,noise]",
                f"callbacks={callbacks}",
                "logger=csv",
                "dataset.val_size=100",
                "dataset.batch_size=64",
                "trainer.max_epochs=2",
            ],
            tmp_path / callbacks,
        )
        record = run(cfg)
        results.append(
            {k: v for k, v in record.items() if k in ("train/loss", "val/loss", "test/acc")}
        )
    assert results[0] == results[1]
    out = tmp_path / "instruments"
    table = rows(out / "metrics.csv")
    assert float(table[-1]["act/var/hidden_1/train"]) > float(table[-1]["act/var/hidden_1/eval"])
    assert (out / "activation_stats.png").stat().st_size > 10_000


def test_per_class_accuracy_table_chart_and_metrics(make_config, tmp_path):
    record = run(make_config("callbacks=instruments", "trainer.max_epochs=2"))
    out = tmp_path / "run"
    table = rows(out / "per_class_accuracy.csv")
    assert [r["class"] for r in table][:2] == ["T-shirt/top", "Trouser"] and len(table) == 10
    assert sum(int(r["total"]) for r in table) == 200  # the whole test set
    overall = sum(int(r["correct"]) for r in table) / 200
    assert overall == pytest.approx(record["test/acc"])
    assert record["test/class_acc/t_shirt_top"] == pytest.approx(float(table[0]["accuracy"]))
    assert (out / "per_class_accuracy.png").read_bytes()[:4] == b"\x89PNG"
    [wandb_dir] = sorted(out.glob("wandb/offline-run-*"))
    history = read_offline_run(wandb_dir).history
    tables = [h["test/per_class_accuracy"] for h in history if "test/per_class_accuracy" in h]
    assert tables and tables[0]["_type"] == "table-file" and tables[0]["nrows"] == 10


def test_histograms_reach_wandb_and_tensorboard(make_config, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run(make_config("callbacks=instruments", "logger=[wandb,tensorboard]", "trainer.max_epochs=2"))
    out = tmp_path / "run"
    [wandb_dir] = sorted(out.glob("wandb/offline-run-*"))
    history = read_offline_run(wandb_dir).history
    logged = [h for h in history if "hist/weights/hidden_1" in h]
    assert len(logged) == 2 and logged[0]["hist/weights/hidden_1"]["_type"] == "histogram"
    assert any("hist/grads/output" in h for h in history)
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"histograms": 0}).Reload()
    tags = events.Tags()["histograms"]
    assert {"hist/weights/hidden_1", "hist/grads/hidden_1"} <= set(tags)
    assert len(events.Histograms("hist/weights/hidden_1")) == 2
