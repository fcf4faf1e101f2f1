"""Instruments (callbacks that look inside a run) and the divergence guard."""

import csv
import json

import pytest
import torch

from reglab.callbacks.divergence import DivergenceError, DivergenceGuard
from reglab.loggers.wandb_offline import read_offline_run
from reglab.train import run


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
    for layer in ("layers.1", "layers.3", "layers.5"):
        assert all(float(r[f"weights/norm/{layer}"]) > 0 for r in table)
    [wandb_dir] = sorted(out.glob("wandb/offline-run-*"))
    history = read_offline_run(wandb_dir).history
    grad_norms = [h["train/grad_norm"] for h in history if "train/grad_norm" in h]
    assert len(grad_norms) == 8  # 16 optimizer steps over 2 epochs, every 2nd one
    assert all(g > 0 for g in grad_norms)
    last_norm = [h["weights/norm/layers.5"] for h in history if "weights/norm/layers.5" in h][-1]
    assert last_norm == pytest.approx(float(table[-1]["weights/norm/layers.5"]))
