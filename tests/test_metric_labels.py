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


# -- each key family against an independent computation ---------------------------------------
# A one-hidden-layer MLP, recomputed by hand from its checkpoint: h = relu(W1 x + b1),
# logits = W2 h + b2 (no dropout: train and eval mode are the same function).
SMALL = ["model.hidden=[32]", "logger=csv"]


def mlp_weights(ckpt: Path) -> list[tuple]:
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    weights = [k for k, v in state.items() if k.startswith("net.") and k.endswith(".weight")]
    return [(state[w], state[w[: -len("weight")] + "bias"]) for w in weights]


def by_hand(ckpt: Path, x):
    """(hidden activations, logits) of the checkpoint's MLP for prepared inputs x."""
    import torch

    (w1, b1), (w2, b2) = mlp_weights(ckpt)
    hidden = torch.relu(x.flatten(1) @ w1.T + b1)
    return hidden, hidden @ w2.T + b2


def prepared_splits(settings):
    """The run's splits, as the model sees them (scaled and standardised)."""
    from reglab.data.build import build_datamodule

    dm = build_datamodule(settings.dataset, seed=settings.seed)
    dm.setup()
    s = dm.splits
    return {
        "train": (dm.prepare_inputs(s.x_train.clone()), s.y_train),
        "val": (dm.prepare_inputs(s.x_val.clone()), s.y_val),
        "test": (dm.prepare_inputs(s.x_test.clone()), s.y_test),
    }


def loss_and_acc(logits, y) -> tuple[float, float]:
    import torch.nn.functional as F

    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def test_train_keys_equal_the_network_recomputed_on_the_training_split(make_config, tmp_path):
    """optimizer.lr=1e-12: the weights do not move (within float32), so each epoch's
    train/loss, train/acc, train/penalty and train/w_norm are functions of the initial weights
    alone; train/lr halves each epoch (lr_decay), starting at the lr the first epoch used."""
    from reglab.app.settings import validate_config

    cfg = make_config(*SMALL, "optimizer.lr=1e-12", "regularizer.l2=0.01", "trainer.max_epochs=2")
    cfg.regularizer.lr_decay = {"schedule": "step", "step_size": 1, "gamma": 0.5, "min_lr": 0.0}
    record = run(cfg)
    rows = read_rows(tmp_path / "run" / "metrics.csv")
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    x, y = prepared_splits(validate_config(cfg))["train"]
    _, logits = by_hand(ckpt, x)
    loss, acc = loss_and_acc(logits, y)
    squares = sum(float(w.pow(2).sum()) for w, _ in mlp_weights(ckpt))  # weights, not biases
    for k, row in enumerate(rows):
        assert row["train/loss"] == pytest.approx(loss, rel=1e-5)
        assert row["train/acc"] == pytest.approx(acc, abs=1e-6)
        assert row["train/penalty"] == pytest.approx(0.01 / 2 * squares, rel=1e-5)
        assert row["train/w_norm"] == pytest.approx(squares**0.5, rel=1e-5)
        assert row["train/lr"] == pytest.approx(1e-12 * 0.5**k, rel=1e-6, abs=0)
        # the largest batch's loss (with its penalty) lies between the mean and the worst sample
        assert loss + row["train/penalty"] <= row["train/loss_max"] + 1e-6
    assert record["train/loss"] == pytest.approx(loss, rel=1e-5)


def test_val_test_best_and_instrument_keys_equal_their_checkpoints_recomputed(
    make_config, tmp_path
):
    """val/* (each epoch), val/acc_best, test/* (the tested checkpoint), weights/norm/*,
    act/* and test/class_acc/* against the checkpoints' networks, recomputed by hand."""
    import torch

    from reglab.app.settings import validate_config

    cfg = make_config(*SMALL, "callbacks=instruments", "trainer.max_epochs=2")
    cfg.callbacks.histograms = None  # W&B/TensorBoard only
    record = run(cfg)
    out = tmp_path / "run"
    rows = read_rows(out / "metrics.csv")
    splits = prepared_splits(validate_config(cfg))
    last, best = out / "checkpoints" / "last.ckpt", out / "checkpoints" / "best.ckpt"

    # val/*: the last epoch's row is the last weights on the validation split
    hidden, logits = by_hand(last, splits["val"][0])
    loss, acc = loss_and_acc(logits, splits["val"][1])
    assert rows[-1]["val/loss"] == pytest.approx(loss, rel=1e-5)
    assert rows[-1]["val/acc"] == pytest.approx(acc, abs=1e-6)
    # *_best: the best so far of the monitor, epoch by epoch
    accs = [r["val/acc"] for r in rows]
    assert [r["val/acc_best"] for r in rows] == pytest.approx(
        [max(accs[: i + 1]) for i in range(len(accs))]
    )
    assert record["val/acc_best"] == pytest.approx(max(accs))
    # act/*: the hidden layer's activations on the first (up to) 1,024 validation inputs
    for mode in ("train", "eval"):  # no dropout: the same function
        assert rows[-1][f"act/mean/hidden_1/{mode}"] == pytest.approx(float(hidden.mean()))
        assert rows[-1][f"act/var/hidden_1/{mode}"] == pytest.approx(
            float(hidden.var(unbiased=False)), rel=1e-5
        )
    # weights/norm/*: the Frobenius norm of each layer's weight at the epoch's end
    (w1, _), (w2, _) = mlp_weights(last)
    assert rows[-1]["weights/norm/hidden_1"] == pytest.approx(float(w1.norm()), rel=1e-6)
    assert rows[-1]["weights/norm/output"] == pytest.approx(float(w2.norm()), rel=1e-6)

    # test/*: the tested checkpoint (the best by val/acc) on the test split
    assert record["tested_checkpoint"] == str(best)
    x, y = splits["test"]
    _, logits = by_hand(best, x)
    loss, acc = loss_and_acc(logits, y)
    assert record["test/loss"] == pytest.approx(loss, rel=1e-5)
    assert record["test/acc"] == pytest.approx(acc, abs=1e-6)
    # test/class_acc/*: per class of the test split, keyed by the class name
    from reglab.data.fashion_mnist import CLASSES

    predictions = logits.argmax(1)
    for c, name in enumerate(CLASSES):
        mine = y == c
        expected = float((predictions[mine] == c).float().mean()) if mine.any() else 0.0
        key = "test/class_acc/" + "".join(ch if ch.isalnum() else "_" for ch in name).lower()
        assert record[key.replace("__", "_").rstrip("_")] == pytest.approx(expected, abs=1e-6)
    assert torch.isfinite(torch.tensor([r["train/loss"] for r in rows])).all()


def test_d2l_test_keys_are_the_test_split_each_epoch(make_config, tmp_path):
    """protocol=d2l: test/* of each epoch's row is the epoch's weights on the test split."""
    from reglab.app.settings import validate_config

    cfg = make_config(*SMALL, "protocol=d2l", "trainer.max_epochs=2")
    record = run(cfg)
    rows = read_rows(tmp_path / "run" / "metrics.csv")
    x, y = prepared_splits(validate_config(cfg))["test"]
    _, logits = by_hand(tmp_path / "run" / "checkpoints" / "last.ckpt", x)
    loss, acc = loss_and_acc(logits, y)
    assert rows[-1]["test/loss"] == pytest.approx(loss, rel=1e-5)
    assert rows[-1]["test/acc"] == pytest.approx(acc, abs=1e-6)
    assert record["test/acc_best"] == pytest.approx(max(r["test/acc"] for r in rows))
    assert record["test/acc"] == pytest.approx(acc, abs=1e-6)  # the last epoch's
