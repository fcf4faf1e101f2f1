"""seeds=N: N replicas in one loop, each equal to (or distributed as) its single run."""

import copy
import csv
import itertools
import json
import math
import statistics
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from torch import nn

from reglab.app.job import run
from reglab.config.compose import compose_config
from reglab.config.errors import ConfigError
from reglab.lit import RegLabModule
from reglab.lit.tasks import Classification, Regression
from reglab.loggers.wandb_offline import read_offline_run
from reglab.models.linear import Linear as LinearModel
from reglab.models.mlp import MLP
from reglab.replicas.module import ReplicaModule
from reglab.replicas.stack import StackedNet, check_functional

from .conftest import run_main
from .helpers import poison_replica

SMALL_MLP = ["model.hidden=[32]", "logger=csv"]
TOY = ["dataset=toy1d", "model=linear", "logger=csv", "trainer.max_epochs=6"]


class SaveInitialWeights(L.Callback):
    """Saves the network's weights as training starts (a single run's initialisation)."""

    def __init__(self, path: str):
        self.path = path

    def on_fit_start(self, trainer, pl_module) -> None:
        torch.save({k: v.clone() for k, v in pl_module.net.state_dict().items()}, self.path)


class SaveParameters(L.Callback):
    """Saves the module's parameters as training starts (a replica-agnostic callback)."""

    def __init__(self, path: str):
        self.path = path

    def on_fit_start(self, trainer, pl_module) -> None:
        torch.save({k: v.clone() for k, v in pl_module.named_parameters()}, self.path)


def _state(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=False)["state_dict"]
    return {k[len("net.") :]: v for k, v in state.items() if k.startswith("net.")}


def _record(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def _rows(folder: Path) -> list[dict]:
    with open(folder / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_replica_k_starts_from_the_weights_of_a_single_run_with_seed_k(
    make_config, tmp_path, monkeypatch
):
    captured = {}
    train_start = ReplicaModule.on_train_start

    def capture_then_train(self):
        captured.update({k: v.detach().clone() for k, v in self.net.params.items()})
        return train_start(self)

    monkeypatch.setattr(ReplicaModule, "on_train_start", capture_then_train)
    run(make_config("seed=3", "seeds=3", "regularizer.dropout=0.5", *SMALL_MLP))
    for k, seed in enumerate((3, 4, 5)):
        path = tmp_path / f"init{seed}.pt"
        single = make_config(
            f"seed={seed}",
            "regularizer.dropout=0.5",
            *SMALL_MLP,
            "+callbacks.init._target_=tests.test_replicas.SaveInitialWeights",
            f"+callbacks.init.path={path}",
        )
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        run(single)
        initial = torch.load(path)
        assert initial.keys() == captured.keys()
        for name, tensor in initial.items():
            assert torch.equal(captured[name][k], tensor), (seed, name)


def test_one_epoch_equals_single_runs_and_writes_their_files(make_config, tmp_path):
    """Dropout off: replica k after one epoch (its own data order) = the single run seed=k."""
    # penalty, weight decay groups and momentum: each per replica, as in its single run
    settings = [*SMALL_MLP, "regularizer.l2=0.001", "regularizer.weight_decay=0.001"]
    settings += ["optimizer.momentum=0.9"]
    record = run(make_config("seed=0", "seeds=2", *settings))
    assert record["status"] == "completed" and record["seeds"] == [0, 1]
    out = tmp_path / "run"
    for seed in (0, 1):
        single = make_config(f"seed={seed}", *settings)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        single_record = run(single)
        folder = out / f"seed_{seed}"
        replica_record = _record(folder)
        assert replica_record["overrides"][-1] == f"seed={seed}"
        assert not any(o.startswith("seeds=") for o in replica_record["overrides"])
        assert replica_record["status"] == "completed" and replica_record["epochs"] == 1
        for ckpt in ("last.ckpt", "best.ckpt"):
            mine = _state(folder / "checkpoints" / ckpt)
            theirs = _state(tmp_path / f"single{seed}" / "checkpoints" / ckpt)
            for name, tensor in theirs.items():
                assert torch.allclose(mine[name], tensor, atol=1e-5, rtol=0), (ckpt, name)
            # the module's metric states too (val/acc_best's running best, train/loss_max)
            states = [
                torch.load(folder / "checkpoints" / ckpt, weights_only=True)["state_dict"],
                torch.load(tmp_path / f"single{seed}" / "checkpoints" / ckpt, weights_only=True)[
                    "state_dict"
                ],
            ]
            for name in ("best_metric.max_value", "train_loss_max.max_value"):
                assert float(states[0][name]) == pytest.approx(float(states[1][name]), abs=1e-5)
                assert math.isfinite(float(states[0][name])), name
        keys = ("train/loss", "train/acc", "train/penalty", "train/w_norm", "val/acc", "test/acc")
        for key in (*keys, "val/acc_best", "test/loss", "train/loss_max"):
            assert replica_record[key] == pytest.approx(single_record[key], abs=1e-5), key
        assert replica_record["tested_checkpoint"].endswith("best.ckpt")
        mine, theirs = _rows(folder), _rows(tmp_path / f"single{seed}")
        assert list(mine[0]) == list(theirs[0])  # the same metrics.csv columns
        assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"  # one for all replicas
        overrides = (folder / ".hydra" / "overrides.yaml").read_text()
        assert f"seed={seed}" in overrides and "seeds" not in overrides
        # every path of its config in its own folder, as its single run's (not the run's)
        saved = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
        stored = RegLabModule.load_from_checkpoint(folder / "checkpoints" / "last.ckpt")
        for config in (saved, stored.hparams.config):
            assert config["paths"]["output_dir"] == str(folder)
            assert config["callbacks"]["model_checkpoint"]["dirpath"] == str(folder / "checkpoints")
            assert config["callbacks"]["epoch_metrics"]["output_dir"] == str(folder)

    # a replica's checkpoint is a RegLabModule checkpoint: eval.py evaluates it
    from reglab.app.evaluate import evaluate, validate_eval_config

    ckpt = out / "seed_1" / "checkpoints" / "best.ckpt"
    eval_cfg = compose_config([f"ckpt_path={ckpt}"], tmp_path / "eval", "eval")
    evaluated = evaluate(validate_eval_config(eval_cfg))
    assert evaluated["test/acc"] == pytest.approx(_record(out / "seed_1")["test/acc"], abs=1e-5)
    assert RegLabModule.load_from_checkpoint(ckpt).hparams.config["seed"] == 1


@pytest.mark.parametrize(
    "checkpoint",
    [
        ["+callbacks.model_checkpoint.monitor=val/loss", "+callbacks.model_checkpoint.mode=min"],
        ["callbacks.model_checkpoint=null"],
    ],
    ids=["val_loss", "none"],
)
def test_each_replica_keeps_the_best_its_single_runs_checkpoint_callback_keeps(
    make_config, tmp_path, checkpoint
):
    """callbacks.model_checkpoint's monitor and mode choose each replica's best.ckpt (and the
    weights its test reads) as they choose its single run's; none: no best.ckpt, the test on
    the last weights. (Here val/acc is 1.0 from the first epoch on, which the task's monitor
    keeps; the validation loss goes on falling, to its last epoch.)"""
    settings = [*SMALL_MLP, "trainer.max_epochs=4", *checkpoint]
    run(make_config("seed=0", "seeds=2", *settings))
    for seed in (0, 1):
        single = make_config(f"seed={seed}", *settings)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        expected = run(single)
        folder, twin = tmp_path / "run" / f"seed_{seed}", tmp_path / f"single{seed}"
        mine = _record(folder)
        assert mine["test/acc"] == pytest.approx(expected["test/acc"], abs=1e-5)
        best, twin_best = folder / "checkpoints" / "best.ckpt", twin / "checkpoints" / "best.ckpt"
        assert (
            best.is_file()
            == twin_best.is_file()
            == (checkpoint[0] != "callbacks.model_checkpoint=null")
        )
        # the same checkpoint tested (its name), as the single run names it
        assert Path(mine["tested_checkpoint"]).name == Path(expected["tested_checkpoint"]).name
        if not twin_best.is_file():
            continue
        assert Path(mine["tested_checkpoint"]).name == "best.ckpt"
        epoch = torch.load(best, weights_only=False)["epoch"]
        assert epoch == torch.load(twin_best, weights_only=False)["epoch"] > 0
        theirs = _state(twin_best)
        assert all(torch.allclose(_state(best)[k], v, atol=1e-5) for k, v in theirs.items())


@pytest.mark.parametrize(
    "model",
    [["model.hidden=[32]", "model.norm=batch"], ["model=lenet_bn", "model.hidden=[32,16]"]],
    ids=["mlp_bn", "lenet_bn"],
)
def test_batch_norm_replicas_keep_their_single_runs_running_statistics(
    make_config, tmp_path, model
):
    """BatchNorm under seeds=N: replica k's weights AND running statistics after each epoch
    equal the single run seed=k's (last.ckpt and best.ckpt), and each replica validates and
    tests with its own statistics (its metrics equal its single run's)."""
    settings = [*model, "logger=csv", "trainer.max_epochs=2", "optimizer.momentum=0.9"]
    record = run(make_config("seed=0", "seeds=2", *settings))
    assert record["replica_status"] == ["completed", "completed"]
    stats = []
    for seed in (0, 1):
        single = make_config(f"seed={seed}", *settings)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        expected = run(single)
        for ckpt in ("last.ckpt", "best.ckpt"):
            mine = _state(tmp_path / "run" / f"seed_{seed}" / "checkpoints" / ckpt)
            theirs = _state(tmp_path / f"single{seed}" / "checkpoints" / ckpt)
            assert mine.keys() == theirs.keys()
            for name, tensor in theirs.items():
                assert mine[name].dtype == tensor.dtype, (ckpt, name)
                # (running variances reach ~10: float32 rounding of the batch statistics,
                # reduced in another order, moves them by ~1e-5, a few parts in a million)
                assert torch.allclose(mine[name], tensor, atol=1e-5, rtol=1e-5), (seed, ckpt, name)
        last = _state(tmp_path / "run" / f"seed_{seed}" / "checkpoints" / "last.ckpt")
        stats.append({k: v for k, v in last.items() if "running_" in k or "num_batches" in k})
        mine = _record(tmp_path / "run" / f"seed_{seed}")
        for key in ("train/loss", "val/acc", "val/loss", "test/acc", "test/loss"):
            assert mine[key] == pytest.approx(expected[key], abs=1e-5), (seed, key)
    assert stats[0] and all(int(v) == 16 for k, v in stats[0].items() if "num_batches" in k)
    # per replica: the two replicas' statistics are their own
    assert all(not torch.allclose(stats[0][k], stats[1][k]) for k in stats[0] if "running" in k)


def test_stacked_batch_norm_updates_and_reads_each_replicas_statistics():
    """In training each replica's running statistics move as its own network's; in eval mode
    each replica normalises with its own; the trial forward of check_functional moves none."""
    torch.manual_seed(0)
    nets = [nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)) for _ in range(2)]
    nets[1][1].running_mean.fill_(5.0)  # different statistics, to tell them apart
    nets[1][1].running_var.fill_(9.0)
    stacked = StackedNet(nets, torch.device("cpu"))
    check_functional(stacked, torch.randn(4, 3))
    assert torch.equal(stacked.buffers["1.running_mean"][1], nets[1][1].running_mean)
    assert torch.equal(stacked.buffers["1.num_batches_tracked"], torch.tensor([0, 0]))
    x = torch.randn(2, 8, 3)
    trained = stacked.forward_train(x)
    for k, net in enumerate(nets):
        net.train()
        assert torch.allclose(trained[k], net(x[k]), atol=1e-6)
        for name, buffer in net.named_buffers():
            assert torch.allclose(stacked.buffers[name][k], buffer, atol=1e-6), (k, name)
    shared = torch.randn(5, 3)
    evaluated = stacked.forward_eval(shared)
    for k, net in enumerate(nets):
        net.eval()
        assert torch.allclose(evaluated[k], net(shared), atol=1e-6), k
    assert not torch.allclose(evaluated[0], evaluated[1], atol=1e-2)


def test_a_diverging_replica_stops_and_the_others_go_on(make_config, tmp_path, monkeypatch):
    baseline = run(make_config(*TOY, "seeds=3", fast=False))
    assert baseline["replica_status"] == ["completed"] * 3
    fit = json.loads((tmp_path / "run" / "seed_43" / "fit.json").read_text())  # artifacts
    assert len(fit["grid"]["x"]) == 200 and len(fit["train"]["x"]) == 10
    before = {
        s: _state(tmp_path / "run" / f"seed_{s}" / "checkpoints" / "last.ckpt") for s in (42, 44)
    }

    poison_replica(monkeypatch, epoch=2)  # replica 1 turns NaN in its third epoch
    cfg = make_config(*TOY, "seeds=3", fast=False)
    cfg.paths.output_dir = str(tmp_path / "poisoned")
    record = run(cfg)
    assert record["replica_status"] == ["completed", "diverged", "completed"]
    diverged = _record(tmp_path / "poisoned" / "seed_43")
    assert diverged["status"] == "diverged" and diverged["epochs"] == 2
    assert diverged["divergence"]["kind"] == "loss" and diverged["divergence"]["epoch"] == 3
    assert "Diverged" in diverged["message"] and "test/loss" not in diverged
    assert [r["epoch"] for r in _rows(tmp_path / "poisoned" / "seed_43")] == ["1", "2"]
    # no artifacts of a training that did not end, as a diverged single run leaves none
    assert not (tmp_path / "poisoned" / "seed_43" / "fit.json").exists()
    for seed in (42, 44):  # untouched: the same weights as without the diverging replica
        folder = tmp_path / "poisoned" / f"seed_{seed}"
        assert (folder / "fit.json").is_file()
        assert _record(folder)["status"] == "completed" and _record(folder)["epochs"] == 6
        after = _state(folder / "checkpoints" / "last.ckpt")
        for name, tensor in before[seed].items():
            assert torch.equal(after[name], tensor)


@pytest.mark.parametrize(
    "guard",
    [
        # 4 steps an epoch (10 points, batches of 3); replica 0 passes the bound at epoch 1
        # step 3 (its last), replica 1 at epoch 2 step 4 (its first)
        ["optimizer.lr=3", "callbacks.divergence_guard.max_grad_norm=50"],
        ["optimizer.lr=100"],  # the loss overflows at epoch 3 step 9, its second
    ],
    ids=["grad_norm", "loss"],
)
def test_a_replica_diverges_at_the_step_and_value_of_its_single_run(make_config, tmp_path, guard):
    """The divergence guard's record (kind, epoch, step, value) of replica k is the single
    run's with seed k, for a step inside an epoch of several."""
    overrides = ["dataset=toy1d", "model=linear", "logger=csv", "dataset.batch_size=3", *guard]
    overrides += ["trainer.max_epochs=12"]
    record = run(make_config(*overrides, "seed=0", "seeds=2", fast=False))
    assert record["replica_status"] == ["diverged", "diverged"]
    for seed in (0, 1):
        single = make_config(*overrides, f"seed={seed}", fast=False)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        expected = run(single)["divergence"]
        mine = _record(tmp_path / "run" / f"seed_{seed}")["divergence"]
        assert {k: mine[k] for k in ("kind", "epoch", "step")} == {
            k: expected[k] for k in ("kind", "epoch", "step")
        }
        assert float(mine["value"]) == pytest.approx(float(expected["value"]), rel=1e-5)


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_early_stopping_stops_each_replica_as_its_single_run(make_config, tmp_path, norm):
    """Replicas stop at different epochs, each where the single run with its seed stops, and
    keep the weights (and running statistics: frozen with them) it stopped with."""
    es = ["model=mlp", "model.hidden=[8]", f"model.norm={norm}", "regularizer=early_stopping"]
    es += ["regularizer.early_stopping.patience=2", "regularizer.early_stopping.min_delta=0.02"]
    overrides = ["dataset=toy1d", "logger=csv", "trainer.max_epochs=40", "seed=0", *es]
    record = run(make_config(*overrides, "seeds=3", fast=False))
    stopped = []
    for seed in (0, 1, 2):
        single = make_config(*[o for o in overrides if o != "seed=0"], f"seed={seed}", fast=False)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        expected = run(single)
        mine = _record(tmp_path / "run" / f"seed_{seed}")
        assert mine["early_stopping"]["stopped"] == expected["early_stopping"]["stopped"]
        assert (
            mine["early_stopping"]["stopped_epoch"] == expected["early_stopping"]["stopped_epoch"]
        )
        assert mine["epochs"] == expected["epochs"]
        stopped.append(mine["epochs"])
        last = _state(tmp_path / "run" / f"seed_{seed}" / "checkpoints" / "last.ckpt")
        theirs = _state(tmp_path / f"single{seed}" / "checkpoints" / "last.ckpt")
        for name, tensor in theirs.items():
            assert torch.allclose(last[name], tensor, atol=1e-5), name
    assert len(set(stopped)) > 1, stopped  # independent: not all at the same epoch
    assert record["epochs"] == max(stopped)


def test_augment_draws_each_replica_as_its_single_run(make_config, tmp_path):
    """regularizer=augment: replica k's crops and flips are those of the single run seed=k."""
    settings = [*SMALL_MLP, "regularizer=augment"]
    record = run(make_config("seed=0", "seeds=2", *settings))
    assert record["replica_status"] == ["completed", "completed"]
    for seed in (0, 1):
        single = make_config(f"seed={seed}", *settings)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        run(single)
        mine = _state(tmp_path / "run" / f"seed_{seed}" / "checkpoints" / "last.ckpt")
        theirs = _state(tmp_path / f"single{seed}" / "checkpoints" / "last.ckpt")
        for name, tensor in theirs.items():
            assert torch.allclose(mine[name], tensor, atol=1e-5, rtol=0), (seed, name)
    # the augmentation acted: without it, replica 0 trains to other weights
    _assert_replica_0_trains_elsewhere_with(make_config, tmp_path, ["seed=0", *SMALL_MLP])


def _assert_replica_0_trains_elsewhere_with(make_config, tmp_path, overrides: list[str]):
    """A single run of `overrides` ends with other weights than the run's replica 0: what
    the test switched on acted."""
    other = make_config(*overrides)
    other.paths.output_dir = str(tmp_path / "without")
    run(other)
    theirs = _state(tmp_path / "without" / "checkpoints" / "last.ckpt")
    mine = _state(tmp_path / "run" / "seed_0" / "checkpoints" / "last.ckpt")
    assert any(not torch.allclose(mine[k], theirs[k], atol=1e-3) for k in theirs)


def test_dropconnect_noise_and_adam_run_per_replica(make_config, tmp_path):
    """DropConnect masks and noise are drawn under vmap per replica; Adam steps them all."""
    overrides = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=csv", "optimizer=adam"]
    overrides += ["regularizer.dropconnect=0.5", "regularizer.noise=0.1", "trainer.max_epochs=3"]
    record = run(make_config(*overrides, "seeds=2", fast=False))
    assert record["replica_status"] == ["completed", "completed"]
    losses = [_record(tmp_path / "run" / f"seed_{s}")["train/loss"] for s in (42, 43)]
    assert all(math.isfinite(v) for v in losses) and losses[0] != losses[1]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("hardware=ddp_cpu", "hardware.strategy=ddp_spawn"),
        ("~optimizer.nesterov", "optimizer._target_=torch.optim.LBFGS"),
        ("+trainer.accumulate_grad_batches=2", "trainer.accumulate_grad_batches"),
        ("callbacks=instruments", "callbacks.grad_norm"),
        ("callbacks.model_checkpoint.save_top_k=3", "callbacks.model_checkpoint.save_top_k=3"),
    ],
)
def test_what_cannot_be_stacked_says_why_and_trains_in_turn(make_config, override, key):
    """Each is a reason to train the seeds one after another (tests/test_seeds_in_turn.py),
    named by its key, found before anything is loaded."""
    from reglab.app.settings import validate_config
    from reglab.app.train import seeds_not_stacked_because

    if "LBFGS" in key:  # a non-elementwise optimizer: its own arguments, no momentum
        override = ["optimizer._target_=torch.optim.LBFGS", "~optimizer.momentum", override]
    overrides = [override] if isinstance(override, str) else override
    settings = validate_config(make_config("seeds=2", *SMALL_MLP, *overrides))
    assert seeds_not_stacked_because(settings).startswith(key)
    stackable = validate_config(make_config("seeds=2", *SMALL_MLP))
    assert seeds_not_stacked_because(stackable) is None


CLIPPED = ["+trainer.gradient_clip_val=0.05"]  # well below the gradients' norm here


@pytest.mark.parametrize(
    "trainer_keys",
    [
        # 3 of 8 training batches, 2 of 4 validation and 2 of 7 test batches
        [
            "trainer.limit_train_batches=3",
            "trainer.limit_val_batches=0.5",
            "trainer.limit_test_batches=2",
        ],
        CLIPPED,
        ["+trainer.gradient_clip_val=0.002", "+trainer.gradient_clip_algorithm=value"],
    ],
    ids=["limits", "clip_norm", "clip_value"],
)
def test_trainer_limits_and_gradient_clipping_act_per_replica(make_config, tmp_path, trainer_keys):
    """Replica k = the single run seed=k with limit_*_batches (the minibatches Lightning
    runs) or gradient clipping (each replica by its own gradients' norm, as its single run)."""
    settings = [*SMALL_MLP, "optimizer.momentum=0.9", "dataset.eval_batch_size=32", *trainer_keys]
    record = run(make_config("seed=0", "seeds=2", *settings))
    assert record["replica_status"] == ["completed", "completed"]
    for seed in (0, 1):
        single = make_config(f"seed={seed}", *settings)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        expected = run(single)
        folder = tmp_path / "run" / f"seed_{seed}"
        mine = _record(folder)
        for key in ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"):
            assert mine[key] == pytest.approx(expected[key], abs=1e-5), (seed, key)
        assert [r["step"] for r in _rows(folder)] == [
            r["step"] for r in _rows(tmp_path / f"single{seed}")
        ]
        for ckpt in ("last.ckpt", "best.ckpt"):
            weights = _state(folder / "checkpoints" / ckpt)
            theirs = _state(tmp_path / f"single{seed}" / "checkpoints" / ckpt)
            for name, tensor in theirs.items():
                assert torch.allclose(weights[name], tensor, atol=1e-5, rtol=0), (ckpt, name)
    if trainer_keys == CLIPPED:  # the clipping acted: unclipped, replica 0 trains elsewhere
        _assert_replica_0_trains_elsewhere_with(make_config, tmp_path, ["seed=0", *settings[:-1]])


def test_hardware_compile_compiles_the_stacked_forwards(make_config, monkeypatch):
    """hardware.compile=true hands the replicas' vmapped forwards (training, evaluation) to
    torch.compile, as a single run hands it its network (the real compile: the slow test
    below)."""
    compiled = []

    def fake_compile(forward, *args, **kwargs):
        compiled.append(getattr(forward, "__name__", type(forward).__name__))
        return forward

    monkeypatch.setattr(torch, "compile", fake_compile)
    record = run(make_config(*TOY, "seeds=2", "hardware.compile=true", fast=False))
    assert record["replica_status"] == ["completed", "completed"]
    # the forwards, and the network of the module replicas' checkpoints load into (their keys
    # are where that module keeps it)
    assert sorted(compiled) == ["Linear", "eval_forward", "train_forward"]


@pytest.mark.slow
def test_a_compiled_seeds_run_equals_the_uncompiled_one(make_config, tmp_path):
    """torch.compile of the stacked forwards (inductor, a C++ toolchain): the same weights,
    running statistics and metrics as eager, up to float rounding."""
    settings = ["dataset=toy1d", "model=mlp", "model.hidden=[16,16]", "model.norm=batch"]
    settings += ["logger=csv", "trainer.max_epochs=20", "seeds=2"]
    eager = run(make_config(*settings, fast=False))
    compiled = make_config(*settings, "hardware.compile=true", fast=False)
    record = run(compiled)
    assert record["replica_status"] == ["completed", "completed"]
    for key in ("train/loss", "val/loss", "test/loss"):
        assert record[key] == pytest.approx(eager[key], rel=1e-4, abs=1e-6), key
    for seed in (42, 43):
        ckpt = Path(compiled.paths.output_dir) / f"seed_{seed}" / "checkpoints" / "last.ckpt"
        compiled_keys = _state(ckpt)  # where a compiled single run's module keeps them
        assert all(k.startswith("_orig_mod.") for k in compiled_keys)
        mine = {k.removeprefix("_orig_mod."): v for k, v in compiled_keys.items()}
        theirs = _state(tmp_path / "run" / f"seed_{seed}" / "checkpoints" / "last.ckpt")
        assert mine.keys() == theirs.keys()
        for name, tensor in theirs.items():
            assert torch.allclose(mine[name], tensor, atol=1e-4, rtol=1e-4), (seed, name)
    # its checkpoints hold the network where a compiled single run's do: eval.py reads them
    from reglab.app.evaluate import evaluate, validate_eval_config

    folder = Path(compiled.paths.output_dir) / "seed_43"
    ckpt = folder / "checkpoints" / "last.ckpt"
    eval_cfg = compose_config([f"ckpt_path={ckpt}"], tmp_path / "eval", "eval")
    evaluated = evaluate(validate_eval_config(eval_cfg))
    assert evaluated["test/loss"] == pytest.approx(_record(folder)["test/loss"], rel=1e-5)


@pytest.mark.parametrize("precision", ["bf16-mixed", "64-true"])
def test_precision_is_lightnings_plugin(make_config, tmp_path, precision):
    """Replicas train through Lightning's precision plugin: autocast, or the stacked tensors
    cast (and the data with them), BatchNorm's running statistics with them; a replica's
    checkpoint is in the precision it trained in."""
    bn = ["model=mlp", "model.hidden=[8]", "model.norm=batch"]
    precise = f"hardware.precision={precision}"
    record = run(make_config(*TOY, *bn, "seeds=2", precise, fast=False))
    assert record["replica_status"] == ["completed", "completed"]
    assert all(math.isfinite(record[k]) for k in ("train/loss", "test/loss"))
    weights = _state(tmp_path / "run" / "seed_43" / "checkpoints" / "last.ckpt")
    dtype = torch.float64 if precision == "64-true" else torch.float32
    assert any("running_var" in k for k in weights)
    assert all(t.dtype == (torch.long if "num_batches" in k else dtype) for k, t in weights.items())


def test_lightning_trainer_keys_and_callbacks_apply_to_replicas(make_config, tmp_path):
    """A profiler (a trainer key Lightning implements) and a callback of the user's that is
    not an instrument run with the replicas' Trainer."""
    marker = tmp_path / "seen"
    callback = ["+callbacks.seen._target_=tests.test_replicas.SaveParameters"]
    callback += [f"+callbacks.seen.path={marker}"]
    cfg = make_config(*TOY, "seeds=2", "+trainer.profiler=simple", *callback, fast=False)
    record = run(cfg)
    assert record["replica_status"] == ["completed", "completed"] and record["epochs"] == 6
    saved = torch.load(marker)  # on_fit_start saw the replicas' stacked tensors
    assert all(t.shape[0] == 2 for t in saved.values())


class ItemControlFlow(nn.Module):
    """Not functional: Python control flow on a tensor's value."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        return self.linear(x) if x.sum().item() > 0 else -self.linear(x)


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(torch.tanh(self.linear(x)))


def test_a_user_model_that_is_not_functional_is_a_clear_error():
    stacked = StackedNet([ItemControlFlow(), ItemControlFlow()], torch.device("cpu"))
    with pytest.raises(ConfigError, match="cannot be trained as stacked replicas"):
        check_functional(stacked, torch.randn(4, 3))


def test_a_functional_user_model_stacks_with_masks_per_replica():
    torch.manual_seed(0)
    nets = [Functional(), Functional()]
    nets[1].load_state_dict(nets[0].state_dict())  # same weights: only the masks differ
    stacked = StackedNet(nets, torch.device("cpu"))
    check_functional(stacked, torch.randn(4, 3))
    x = torch.randn(8, 3)
    out = stacked.forward_train(torch.stack([x, x]))
    assert not torch.equal(out[0], out[1])  # dropout masks differ per replica
    evaluated = stacked.forward_eval(x)
    assert torch.allclose(evaluated[0], evaluated[1])


def test_forward_and_loss_in_one_vmap_are_the_two_apart():
    """The training step's fused forward and loss: the same dropout masks and bits."""
    torch.manual_seed(0)
    stacked = StackedNet([Functional(), Functional()], torch.device("cpu"))
    x, y = torch.randn(2, 8, 3), torch.randn(2, 8, 2)
    torch.manual_seed(1)

    def loss(outputs, targets, values):  # `values`: a pack's per-replica settings (none here)
        return nn.functional.mse_loss(outputs, targets)

    outputs, losses = stacked.forward_and_loss(loss)(x, y, {})
    torch.manual_seed(1)
    apart = stacked.forward_train(x)
    assert torch.equal(outputs, apart) and not torch.equal(outputs[0], outputs[1])
    assert torch.equal(losses, torch.func.vmap(nn.functional.mse_loss)(apart, y))


RATES = itertools.cycle([0.1, 0.4, 0.7])  # each replica built next its own dropout rate


def _dropout_mlp(p: float, q: float | None = None) -> nn.Module:
    from reglab.regularizers.dropout import Dropout

    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 8),
        nn.ReLU(),
        Dropout(p),
        nn.Linear(8, 8),
        nn.ReLU(),
        Dropout(p if q is None else q),
        nn.Linear(8, 2),
    )


def _noise_mlp(std: float) -> nn.Module:
    from reglab.regularizers.noise import GaussianNoise

    return nn.Sequential(
        nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), GaussianNoise(std), nn.Linear(8, 2)
    )


def _dropconnect_mlp(p: float) -> nn.Module:
    from reglab.regularizers.dropconnect import DropConnectLinear

    return nn.Sequential(
        nn.Flatten(),
        DropConnectLinear(6, 8, p),
        nn.ReLU(),
        DropConnectLinear(8, 8, 0.0),
        nn.Tanh(),
        nn.Linear(8, 2),
    )


def _plain_and_generic(nets: list[nn.Module]) -> tuple[StackedNet, StackedNet]:
    """The same replicas stacked twice: the plain Linear/activation path and vmap's."""
    plain = StackedNet(nets, torch.device("cpu"))
    generic = StackedNet(nets, torch.device("cpu"))
    generic._plain = None
    return plain, generic


@pytest.mark.parametrize(
    "build, in_shape, batch, exact",
    [
        (lambda: MLP([1], 1, hidden=[200, 200, 200]), [1], 10, True),  # toy1d's network
        (lambda: LinearModel([4], 1, bias=False), [4], 10, True),  # poly_fit's
        (lambda: nn.Sequential(nn.Flatten(), nn.Linear(5, 7), nn.Sigmoid()), [5], 1, False),
        (lambda: MLP([1, 28, 28], 10, hidden=[64, 32], activation="tanh"), [1, 28, 28], 33, False),
        # reglab's dropout layers: one rate, and each replica its own (a pack's)
        (lambda: _dropout_mlp(0.3, 0.5), [6], 9, False),
        (lambda: _dropout_mlp(next(RATES)), [6], 9, False),
        # its noise layer and DropConnect's Linear: one std or rate, and each replica its own
        (lambda: _noise_mlp(0.5), [6], 9, False),
        (lambda: _noise_mlp(next(RATES)), [6], 9, False),
        (lambda: _dropconnect_mlp(0.3), [6], 9, False),
        (lambda: _dropconnect_mlp(next(RATES)), [6], 9, False),
    ],
    ids=[
        "toy1d",
        "poly",
        "sigmoid",
        "tanh",
        "dropout",
        "dropout_per_replica",
        "noise",
        "noise_per_replica",
        "dropconnect",
        "dropconnect_per_replica",
    ],
)
def test_a_plain_linear_stack_trains_without_vmap_with_the_same_numbers(
    build, in_shape, batch, exact
):
    """Outputs and losses equal vmap(functional_call)'s bit for bit (with dropout: the same
    masks, drawn as vmap draws them); so do the gradients of toy1d's and poly_fit's
    networks, and any within 1e-6 (a weight gradient's matmul is another BLAS call, its
    rounding may differ in the last bit); the weight gradients arrive in the weights' layout
    (no transposing copy per step)."""
    torch.manual_seed(0)
    plain, generic = _plain_and_generic([build() for _ in range(3)])
    assert plain._plain is not None
    x, y = torch.randn(3, batch, *in_shape), torch.randn(3, batch, 1)

    def loss(outputs, targets, values):
        return nn.functional.mse_loss(outputs[:, :1], targets)

    results = []
    for stacked in (plain, generic):
        arriving = {}  # each weight gradient as backward hands it over, before accumulating

        def record(grad, name, seen=arriving):
            seen[name] = grad.is_contiguous()

        for name, p in stacked.params.items():
            p.register_hook(lambda grad, name=name: record(grad, name))
        torch.manual_seed(1)  # (dropout: the same draws for both paths)
        outputs, losses = stacked.forward_and_loss(loss)(x, y, {})
        losses.sum().backward()
        grads = {name: p.grad for name, p in stacked.params.items()}
        results.append((outputs, losses, grads, arriving))
    (outputs, losses, grads, arriving), (outputs_v, losses_v, grads_v, arriving_v) = results
    assert torch.equal(outputs, outputs_v) and torch.equal(losses, losses_v)
    assert grads.keys() == grads_v.keys()
    for name, grad in grads.items():
        if exact:
            assert torch.equal(grad, grads_v[name]), name
        scale = float(grads_v[name].abs().max())
        torch.testing.assert_close(grad, grads_v[name], rtol=0, atol=1e-6 * scale)
    assert all(arriving.values())
    if any(p.dim() == 3 and min(p.shape[1:]) > 1 for p in plain.params.values()):
        assert not all(arriving_v.values())  # what vmap's bmm backward hands over: transposed


@pytest.mark.parametrize("threads", [2, 3])
def test_replicas_left_over_by_the_threads_multiply_one_at_a_time_with_bmms_numbers(
    threads, monkeypatch
):
    """stacked_matmul: bmm gives each CPU thread whole products, so N % threads of them are
    multiplied apart, each on every thread; each product equals bmm's bit for bit, transposed
    operands (the forward's and the weight gradient's) included."""
    from reglab.replicas import plain_stack

    calls, mm = [], torch.mm
    monkeypatch.setattr(torch, "mm", lambda *a, **k: calls.append(1) or mm(*a, **k))
    monkeypatch.setattr(plain_stack, "SPLIT_MACS", 64 * 96 * 48)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        for count in range(1, 8):
            h, weight, grad = (
                torch.randn(count, *shape) for shape in ((64, 96), (48, 96), (64, 48))
            )
            # the forward's h @ W^T and the weight gradient's grad^T @ h
            for x, y in ((h, weight.transpose(1, 2)), (grad.transpose(1, 2), h)):
                calls.clear()
                out = plain_stack.stacked_matmul(x, y)
                assert torch.equal(out, torch.bmm(x, y)), (count, x.shape)
                assert len(calls) == count % threads
        # where autograd records (a double backward): one bmm, differentiable
        a = torch.randn(3, 64, 96, requires_grad=True)
        calls.clear()
        plain_stack.stacked_matmul(a, torch.randn(3, 96, 48)).sum().backward()
        assert not calls and a.grad is not None
        small = torch.randn(3, 8, 8)
        calls.clear()
        assert torch.equal(plain_stack.stacked_matmul(small, small), torch.bmm(small, small))
        assert not calls  # below SPLIT_MACS: one bmm
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("shape", [(3, 10, 1), (30, 10, 1), (5, 7, 3), (4, 10)])
def test_regression_replica_losses_are_vmaps_bit_for_bit(shape):
    """A regression stack's losses without vmap (Task.replica_losses: ~0.1 ms less a step,
    what a tiny model's step costs): vmap's losses and gradients, bit for bit, at any scale;
    where they are not (outputs that broadcast against targets; classification) vmap's own."""
    torch.manual_seed(0)
    task = Regression()
    for scale in (1e-3, 1.0, 1e3):
        outputs = (torch.randn(shape) * scale).requires_grad_()
        targets = torch.randn(shape)
        losses = task.replica_losses(outputs, targets)
        (grad,) = torch.autograd.grad(losses.sum(), outputs)
        twin = outputs.detach().clone().requires_grad_()
        expected = torch.func.vmap(task.loss)(twin, targets)
        (expected_grad,) = torch.autograd.grad(expected.sum(), twin)
        assert torch.equal(losses, expected) and torch.equal(grad, expected_grad)
    assert task.replica_losses(torch.randn(3, 10, 1), torch.randn(3, 10)) is None
    labels = torch.zeros(2, 4, dtype=torch.long)
    assert Classification(num_classes=3).replica_losses(torch.randn(2, 4, 3), labels) is None


@pytest.mark.parametrize(
    "net",
    [
        MLP([3], 2, hidden=[4], hooks=None, norm="batch"),
        nn.Sequential(nn.Flatten(), nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2)),
        nn.Sequential(nn.Linear(3, 2)),  # no Flatten: a Linear could see more dimensions
        Functional(),
    ],
)
def test_other_models_train_through_vmap(net):
    assert StackedNet([net, copy.deepcopy(net)], torch.device("cpu"))._plain is None


class Tied(nn.Module):
    """An encoder and a decoder sharing one weight matrix."""

    def __init__(self):
        super().__init__()
        self.encode, self.decode = nn.Linear(3, 2, bias=False), nn.Linear(2, 3, bias=False)
        self.decode.weight = self.encode.weight  # (2, 3): decode uses its transpose below

    def forward(self, x):
        return nn.functional.linear(self.encode(x), self.decode.weight.t())


def test_a_model_with_tied_weights_stacks_as_its_single_networks():
    torch.manual_seed(0)
    nets = [Tied(), Tied()]
    stacked = StackedNet(nets, torch.device("cpu"))
    assert list(stacked.params) == ["encode.weight"]  # one tensor for both uses
    x = torch.randn(2, 4, 3)
    out = stacked.forward_train(x)
    for k, net in enumerate(nets):
        assert torch.allclose(out[k], net(x[k]), atol=1e-6)


def test_seeds_and_a_seed_sweep_give_the_same_summary(tmp_path):
    """`-m regularizer=none,dropout seeds=2` = `-m regularizer=none,dropout seed=range(42,44)`:
    the same table (without dropout, the same numbers)."""
    common = ["dataset=toy1d", "model=mlp", "model.hidden=[8,8]", "logger=csv"]
    common += ["trainer.max_epochs=2", "callbacks.progress_bar=null"]
    sweeps = {"replicas": "seeds=2", "singles": "seed=range(42,44)"}
    for name, seeds in sweeps.items():
        args = ["-m", "regularizer=none,dropout", seeds, *common]
        result = run_main([*args, f"hydra.sweep.dir={tmp_path / name}"])
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]

    def table(name):
        text = (tmp_path / name / "summary.csv").read_text().splitlines()
        return {row["regularizer"]: row for row in csv.DictReader(text)}

    # the same sweep again: its finished seeds=2 jobs are skipped, as finished single jobs are
    args = ["-m", "regularizer=none,dropout", "seeds=2", *common]
    again = run_main([*args, f"hydra.sweep.dir={tmp_path / 'replicas'}"])
    assert (again.stdout + again.stderr).count("Already finished") == 2

    mine, theirs = table("replicas"), table("singles")
    assert list(next(iter(mine.values()))) == list(next(iter(theirs.values())))  # columns
    assert mine.keys() == theirs.keys() == {"none", "dropout"}
    for regularizer, row in mine.items():
        other = theirs[regularizer]
        assert row["seeds"] == other["seeds"] == "2"
        for key in row:
            if key.endswith(("_mean", "_std")) and not key.startswith(("wall", "epochs")):
                # dropout draws different masks in one loop than in single runs
                tol = 1e-4 if regularizer == "none" else 1.0
                assert float(row[key]) == pytest.approx(float(other[key]), abs=tol), key


def test_each_replica_is_its_own_wandb_run_in_one_group(make_config, tmp_path):
    run(make_config(*TOY[:-1], "logger=default", "trainer.max_epochs=2", "seeds=2", fast=False))
    runs = []
    for seed in (42, 43):
        [folder] = sorted((tmp_path / "run" / f"seed_{seed}" / "wandb").glob("offline-run-*"))
        runs.append(read_offline_run(folder))
    assert runs[0].group == runs[1].group == "run"
    assert [r.config["seed"] for r in runs] == [42, 43]
    assert len({r.run_id for r in runs}) == 2
    epochs = [h["train/loss"] for h in runs[1].history if "train/loss" in h]
    assert len(epochs) == 2  # the replica's epochs, logged to its own run


@pytest.mark.slow
def test_dropout_replicas_are_distributed_as_single_runs(make_config, tmp_path):
    """With dropout, 10 replicas and 10 single runs: mean and spread of the final test
    accuracy agree within two standard errors."""
    # a small learning rate keeps test accuracy off its ceiling (the fake data are easy)
    overrides = ["regularizer=dropout", "model.hidden=[32,32]", "optimizer.lr=0.03", "logger=csv"]
    run(make_config(*overrides, "seed=0", "seeds=10"))
    mine = [_record(tmp_path / "run" / f"seed_{s}")["test/acc"] for s in range(10)]
    theirs = []
    for seed in range(10):
        cfg = make_config(*overrides, f"seed={seed}")
        cfg.paths.output_dir = str(tmp_path / f"single{seed}")
        theirs.append(run(cfg)["test/acc"])
    se = math.sqrt(statistics.variance(mine) / 10 + statistics.variance(theirs) / 10)
    print(
        f"replicas {statistics.fmean(mine):.4f} +- {statistics.stdev(mine):.4f}, "
        f"single runs {statistics.fmean(theirs):.4f} +- {statistics.stdev(theirs):.4f}"
    )
    assert abs(statistics.fmean(mine) - statistics.fmean(theirs)) <= 2 * se + 1e-6
    # spread: the standard deviations agree within two standard errors of a std (~ s/sqrt(2n))
    s_mine, s_theirs = statistics.stdev(mine), statistics.stdev(theirs)
    se_std = math.sqrt((s_mine**2 + s_theirs**2) / (2 * 9))
    assert abs(s_mine - s_theirs) <= 2 * se_std + 1e-6


def test_the_plain_path_falls_back_when_torch_renames_its_hook_dicts(monkeypatch):
    """plain_stack reads torch's private hook dicts: a name torch no longer has reads as
    "hooked" (the generic vmap path), never as "no hooks" (a skipped hook)."""
    from torch import nn

    from reglab.replicas import plain_stack

    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert plain_stack.plain_layers(net) is not None
    monkeypatch.setattr(plain_stack, "HOOK_DICTS", (*plain_stack.HOOK_DICTS, "_renamed_hooks"))
    assert plain_stack.plain_layers(net) is None


def test_where_validation_is_the_test_split_replicas_test_their_last_weights(make_config, tmp_path):
    """toy1d evaluates its test split every epoch: with a best-checkpoint monitor set,
    test_ckpt=auto still tests the last weights, as the single run does (weights chosen on
    the test data would give a test-selected number)."""
    settings = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=csv"]
    settings += ["+callbacks.model_checkpoint.monitor=val/loss", "trainer.max_epochs=60"]
    settings += ["+callbacks.model_checkpoint.mode=min"]
    run(make_config("seed=0", "seeds=2", *settings, fast=False))
    for seed in (0, 1):
        single = make_config(f"seed={seed}", *settings, fast=False)
        single.paths.output_dir = str(tmp_path / f"single{seed}")
        expected = run(single)
        mine = _record(tmp_path / "run" / f"seed_{seed}")
        assert mine["test/loss"] == pytest.approx(expected["test/loss"], rel=1e-4)
        assert mine["tested_checkpoint"] == expected["tested_checkpoint"] == "last weights"
    best = torch.load(tmp_path / "run" / "seed_0" / "checkpoints" / "best.ckpt", weights_only=False)
    assert best["epoch"] < 59  # the best weights are not the last: a test of them would differ
