"""hydra/launcher=stacked: a sweep's compatible jobs train as one pack of stacked replicas, and
each job leaves what the basic launcher's job leaves, with the same numbers."""

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml
from torch import nn

from hydra_plugins.reglab_stacked_launcher.stacked_launcher import fill_workers
from reglab.app.settings import validate_config
from reglab.config.compose import compose_config
from reglab.regularizers.dropconnect import DropConnectLinear
from reglab.regularizers.dropout import Dropout
from reglab.regularizers.noise import GaussianNoise
from reglab.replicas.packing import packing, split
from reglab.replicas.stack import StackedNet
from reglab.report.build import build_report

from .conftest import FAST, run_cli, run_main

# 8 jobs that differ in weight decay, lr and seed: one pack (SGD with momentum)
TOY_SWEEP = [
    "-m",
    "dataset=toy1d",
    "model=mlp",
    "model.hidden=[16,16]",
    "optimizer=sgd",
    "optimizer.momentum=0.9",
    "trainer.max_epochs=6",
    "trainer.check_val_every_n_epoch=2",
    "logger=csv",
    "regularizer.weight_decay=0.0,0.01",
    "optimizer.lr=0.01,0.03",
    "seed=0,1",
]
# a packed job draws no curves.png of its own, as a seeds=N replica (reglab.app.pack)
NOT_PACKED = {"curves.png", "curves.svg"}


def _stacked_sweep(folder: Path, *overrides: str) -> str:
    """Runs `python train.py -m <overrides> hydra/launcher=stacked` into `folder`; its output."""
    result = run_main(["-m", *overrides, "hydra/launcher=stacked", f"hydra.sweep.dir={folder}"])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def _records(sweep: Path) -> dict[tuple, dict]:
    records = {}
    for job in sweep.iterdir():
        if job.name.isdigit():
            record = json.loads((job / "metrics.json").read_text())
            records[tuple(sorted(record["overrides"]))] = record | {"folder": job}
    return records


def _assert_same_results(stacked: Path, basic: Path, rel: float) -> None:
    ours, theirs = _records(stacked), _records(basic)
    assert ours.keys() == theirs.keys()
    for overrides, expected in theirs.items():
        got = ours[overrides]
        assert got["status"] == expected["status"] == "completed"
        metrics = [k for k in expected if "/" in k]
        assert metrics and sorted(metrics) == sorted(k for k in got if "/" in k)
        for key in metrics:
            assert got[key] == pytest.approx(expected[key], rel=rel, abs=1e-6), (overrides, key)
        assert got["epochs"] == expected["epochs"]
        job, twin = got["folder"], expected["folder"]
        files = {str(p.relative_to(job)) for p in job.rglob("*") if p.is_file()}
        twin_files = {str(p.relative_to(twin)) for p in twin.rglob("*") if p.is_file()}
        assert files == twin_files - NOT_PACKED
        for name in ("overrides.yaml", "config.yaml"):  # Hydra's own, as for the basic job
            saved = (job / ".hydra" / name).read_text()
            assert saved == (twin / ".hydra" / name).read_text().replace(str(twin), str(job))
        # hydra.yaml: the same job (name, number, override_dirname) and task overrides (the
        # launcher and the sweep folder differ)
        hydra, twin_hydra = (
            yaml.safe_load((folder / ".hydra" / "hydra.yaml").read_text())["hydra"]
            for folder in (job, twin)
        )
        assert hydra["job"] == twin_hydra["job"]
        assert hydra["overrides"]["task"] == twin_hydra["overrides"]["task"]
        rows = list(csv.DictReader((job / "metrics.csv").open()))
        twin_rows = list(csv.DictReader((twin / "metrics.csv").open()))
        assert rows[0].keys() == twin_rows[0].keys() and len(rows) == len(twin_rows)
        for row, twin_row in zip(rows, twin_rows, strict=True):  # each job's own lr
            assert float(row["train/lr"]) == pytest.approx(float(twin_row["train/lr"]))
        weights = torch.load(job / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
        twin_weights = torch.load(twin / "checkpoints/last.ckpt", weights_only=True)["state_dict"]
        assert weights.keys() == twin_weights.keys()
        for name, tensor in twin_weights.items():
            if name.startswith("net."):  # (metric states: a replica's are fresh, as seeds=N)
                torch.testing.assert_close(weights[name], tensor, rtol=rel, atol=1e-6)


def _stacked_and_basic(sweep: list[str], tmp_path: Path, packs: str) -> tuple[Path, Path]:
    """Runs `sweep` with the stacked launcher (its log saying `packs`) and the basic one;
    their sweep folders."""
    stacked = run_main([*sweep, "hydra/launcher=stacked", f"hydra.sweep.dir={tmp_path / 's'}"])
    assert stacked.returncode == 0, stacked.stderr[-3000:]
    assert packs in stacked.stdout + stacked.stderr
    basic = run_main([*sweep, f"hydra.sweep.dir={tmp_path / 'b'}"])
    assert basic.returncode == 0, basic.stderr[-3000:]
    return tmp_path / "s", tmp_path / "b"


@pytest.fixture(scope="module")
def basic_toy_sweep(tmp_path_factory, fmnist_root) -> Path:
    """TOY_SWEEP's folder, run by the basic launcher once for the tests that compare with it
    (they only read it), in the environment _isolated_env gives a test."""
    folder = tmp_path_factory.mktemp("basic_toy_sweep") / "b"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATA_DIR", str(fmnist_root))
        env.setenv("REGLAB_CACHE_DIR", str(folder.parent / "cache"))
        env.setenv("REGLAB_LOG_DIR", str(folder.parent / "logs"))
        env.setenv("WANDB_MODE", "offline")
        basic = run_main([*TOY_SWEEP, f"hydra.sweep.dir={folder}"])
    assert basic.returncode == 0, basic.stderr[-3000:]
    return folder


def test_stacked_sweep_equals_the_basic_one_and_resumes(tmp_path, basic_toy_sweep):
    stacked = run_main([*TOY_SWEEP, "hydra/launcher=stacked", f"hydra.sweep.dir={tmp_path / 's'}"])
    assert stacked.returncode == 0, stacked.stderr[-3000:]
    assert "8 in 1 packs trained stacked (8)" in stacked.stdout + stacked.stderr
    _assert_same_results(tmp_path / "s", basic_toy_sweep, rel=1e-5)
    # the sweep report reads the packed jobs as the basic ones
    summary = [
        {k: v for k, v in row.items() if "wall" not in k}
        for row in csv.DictReader((tmp_path / "s" / "summary.csv").open())
    ]
    twin = [
        {k: v for k, v in row.items() if "wall" not in k}
        for row in csv.DictReader((basic_toy_sweep / "summary.csv").open())
    ]
    assert [r["regularizer.weight_decay"] for r in summary] == [
        r["regularizer.weight_decay"] for r in twin
    ]
    for row, twin_row in zip(summary, twin, strict=True):
        for key, value in twin_row.items():
            if key.endswith("_mean"):
                assert float(row[key]) == pytest.approx(float(value), rel=1e-4), key
    assert not (tmp_path / "s" / ".packs").exists()  # the packs' state served: gone

    # the same command again: every job is finished, nothing trains or is rewritten
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "s").glob("*/metrics.json")}
    again = run_main([*TOY_SWEEP, "hydra/launcher=stacked", f"hydra.sweep.dir={tmp_path / 's'}"])
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("Already finished") == 8
    assert "Training" not in again.stdout + again.stderr
    assert {p: p.stat().st_mtime_ns for p in written} == written


def test_classification_pack_with_adam_penalties_and_label_smoothing(tmp_path):
    """One epoch without dropout: per-replica lr, L2 and label smoothing (0 packs with > 0:
    off is a value), with decoupled weight decay (AdamW), give each job its single run's
    numbers. (8 jobs: each basic job costs seconds; per-replica decay: TOY_SWEEP.)"""
    sweep = [
        "-m",
        *FAST,
        "logger=csv",
        "model=mlp",
        "model.hidden=[32]",
        "optimizer=adam",
        "optimizer._target_=torch.optim.AdamW",
        "optimizer.lr=0.001,0.003",
        "regularizer.weight_decay=0.05",
        "regularizer.l2=0,0.001",
        "regularizer.label_smoothing=0,0.1",
    ]
    _stacked_and_basic(sweep, tmp_path, "8 in 1 packs")
    # Adam divides by the gradient's running scale: rounding grows faster than with SGD
    _assert_same_results(tmp_path / "s", tmp_path / "b", rel=1e-4)


def test_each_replica_draws_with_its_own_rate():
    """A pack's dropout / DropConnect / noise layers hold one rate per replica."""

    def scalar_net(*layers):
        weight = nn.Linear(1, 1, bias=False)
        nn.init.ones_(weight.weight)
        return nn.Sequential(weight, *layers)

    cpu = torch.device("cpu")
    ones = torch.ones(2, 200_000, 1)
    torch.manual_seed(0)
    dropped = StackedNet([scalar_net(Dropout(0.1)), scalar_net(Dropout(0.6))], cpu)
    zeros = (dropped.forward_train(ones) == 0).float().mean((1, 2))
    torch.testing.assert_close(zeros, torch.tensor([0.1, 0.6]), atol=0.01, rtol=0)
    noisy = StackedNet([scalar_net(GaussianNoise(0.5)), scalar_net(GaussianNoise(2.0))], cpu)
    stds = (noisy.forward_train(ones) - 1).std((1, 2))
    torch.testing.assert_close(stds, torch.tensor([0.5, 2.0]), atol=0.02, rtol=0)
    layers = [DropConnectLinear(100_000, 1, p, bias=False) for p in (0.2, 0.7)]
    for layer in layers:
        nn.init.ones_(layer.weight)
    connected = StackedNet(layers, cpu)
    kept = connected.forward_train(torch.ones(2, 1, 100_000)).flatten() / 100_000
    torch.testing.assert_close(kept, torch.tensor([1.0, 1.0]), atol=0.02, rtol=0)
    # the rates are not part of a replica's checkpoint (a single run keeps them as attributes)
    assert set(dropped.replica_state(0)) == {"0.weight"}
    with pytest.raises(AssertionError):  # and they do differ: one rate would fail above
        torch.testing.assert_close(zeros, torch.tensor([0.1, 0.1]), atol=0.01, rtol=0)


def _packing(tmp_path, *overrides):
    return packing(validate_config(compose_config([*FAST, *overrides], tmp_path / "run")))


def test_what_packs_together(tmp_path):
    base = _packing(tmp_path, "regularizer=dropout")
    assert base.key is not None
    # rates, penalties, decay, lr, seed: declared per replica
    for same in (
        ["regularizer=dropout", "regularizer.dropout=[0.3,0.1]"],
        ["regularizer=dropout", "seed=7"],
        ["regularizer=dropout", "optimizer.lr=0.5"],
        ["regularizer=dropout", "regularizer.l2=1e-3"],
        ["regularizer=dropout", "regularizer.weight_decay=1e-3"],
    ):
        assert _packing(tmp_path, *same).key == base.key, same
    # a shape, a code path, a rate switched off, a schedule with another lr: their own pack
    for other in (
        ["regularizer=dropout", "model.hidden=[64,64]"],
        ["regularizer=none"],
        ["regularizer=dropout", "regularizer.dropout=[0.5,0.0]"],
        ["regularizer=dropout", "regularizer.dropout=0.5"],  # one rate for all: not a list
        ["regularizer=dropout", "regularizer.dropout_impl=torch"],
        ["regularizer=dropout", "optimizer.momentum=0.5"],
        ["regularizer=dropout", "dataset.batch_size=32"],
        ["regularizer=[dropout,max_norm]"],
    ):
        assert _packing(tmp_path, *other).key != base.key, other
    decayed = ["regularizer=[dropout,lr_decay]"]
    assert _packing(tmp_path, *decayed, "optimizer.lr=0.5").key != _packing(tmp_path, *decayed).key
    # trains alone, and says why
    alone = _packing(tmp_path, "seeds=2")
    assert alone.key is None and "seeds=2" in alone.alone_because
    resumed = _packing(tmp_path, f"ckpt_path={tmp_path / 'x.ckpt'}")
    assert resumed.key is None and "ckpt_path" in resumed.alone_because


def test_split_evenly():
    assert [len(p) for p in split(list(range(10)), 4)] == [4, 3, 3]
    assert [len(p) for p in split(list(range(8)), 32)] == [8]
    assert [x for pack in split(list(range(7)), 2) for x in pack] == list(range(7))


def test_max_pack_and_jobs_that_fit_no_pack(tmp_path):
    """max_pack splits a pack; a job of another shape packs with its own kind; an invalid job
    fails as with the basic launcher, and the sweep goes on."""
    result = run_main(
        [
            "-m",
            "dataset=toy1d",
            "model.hidden=[8],[8,8]",
            "regularizer.dropout=0.2,0.4,1.5",
            "seed=0,1",
            "trainer.max_epochs=2",
            "logger=csv",
            "hydra/launcher=stacked",
            "hydra.launcher.max_pack=3",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]  # after the report: the invalid jobs failed
    assert "8 in 4 packs trained stacked (2, 2, 2, 2)" in output, output[-3000:]
    assert "4 of 12 jobs failed" in output
    statuses = sorted(r["status"] for r in _records(tmp_path).values())
    assert statuses == ["completed"] * 8 + ["failed"] * 4


def test_a_job_its_single_run_refuses_fails_as_alone_and_the_pack_trains(tmp_path):
    """Label smoothing on a regression set packs with the jobs without it (0 packs with any
    rate); only the first job's regularizers were checked, so it trained as label smoothing 0
    and said completed. Now it fails as its single run does, and the other job trains."""
    result = run_main(
        [
            "-m",
            "dataset=toy1d",
            "model.hidden=[8]",
            "regularizer=label_smoothing",
            "regularizer.label_smoothing=0,0.1",
            "trainer.max_epochs=2",
            "logger=csv",
            "hydra/launcher=stacked",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]  # a job failed, as with the basic launcher
    records = {
        next(o for o in r["overrides"] if o.startswith("regularizer.label_smoothing=")): r
        for r in _records(tmp_path).values()
    }
    refused = records["regularizer.label_smoothing=0.1"]
    assert refused["status"] == "failed"
    assert "smooths class labels" in refused["error"]
    assert records["regularizer.label_smoothing=0"]["status"] == "completed"


def test_an_interrupted_pack_resumes_where_it_stopped(tmp_path, basic_toy_sweep):
    """Ctrl-C in a pack writes its jobs as of the last checkpoint (interrupted); the same
    command again continues the pack from its state to the numbers of an uninterrupted run."""
    sweep = TOY_SWEEP
    kill = [
        "+callbacks.kill._target_=tests.helpers.KillAt",
        "+callbacks.kill.epoch=3",
        f"+callbacks.kill.marker={tmp_path / 'killed'}",
        "+callbacks.kill.signal=SIGINT",
    ]
    command = [*sweep, *kill, "hydra/launcher=stacked", f"hydra.sweep.dir={tmp_path / 's'}"]
    first = run_cli(command)
    assert first.returncode == 1, first.stderr[-3000:]
    assert sorted(r["status"] for r in _records(tmp_path / "s").values()) == ["interrupted"] * 8
    assert list((tmp_path / "s" / ".packs").glob("*/checkpoints/last.ckpt"))
    again = run_cli(command)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "after epoch 2" in again.stdout + again.stderr  # went on from its checkpoint
    resumed = {
        tuple(o for o in k if "callbacks.kill" not in o): r
        for k, r in _records(tmp_path / "s").items()
    }
    assert len(resumed) == 8
    for overrides, expected in _records(basic_toy_sweep).items():
        got = resumed[overrides]
        assert got["status"] == "completed" and got["epochs"] == expected["epochs"]
        for key in (k for k in expected if "/" in k):
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_optuna_trials_asked_together_train_as_one_pack(tmp_path, n_jobs):
    """hydra.sweeper.n_jobs=2: each batch of 2 trials is one pack (n_jobs=2: split, one job in
    each of 2 worker processes, started once for both batches). n_jobs=1 trains in the
    launcher's process: run here (run_main), without a launch's ~7 s of imports."""
    result = (run_main if n_jobs == 1 else run_cli)(
        [
            "hparams_search=dropout_weight_decay",
            *FAST,
            "logger=csv",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "hydra/launcher=stacked",
            f"hydra.launcher.n_jobs={n_jobs}",
            f"hydra.sweep.dir={tmp_path}",
        ]
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    if n_jobs == 1:
        assert output.count("2 in 1 packs trained stacked (2)") == 2
    else:
        assert output.count("Running 2 units in 2 worker processes") == 2, output[-3000:]
        assert output.count("Starting 2 worker processes") == 1, output[-3000:]
    trials = list(csv.DictReader((tmp_path / "trials.csv").open()))
    assert len(trials) == 4 and all(float(t["value"]) > 0 for t in trials), trials


def test_a_pack_that_does_not_fit_in_memory_trains_in_parts(tmp_path, monkeypatch):
    from reglab.app import pack

    monkeypatch.setattr(pack, "replicas_that_fit", lambda per_replica, device: 3)
    sweep = [*TOY_SWEEP, "hydra/launcher=stacked", f"hydra.sweep.dir={tmp_path}"]
    result = run_main(sweep)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "8 jobs do not fit in memory together: packs of 3" in output
    assert output.count("jobs as stacked replicas") == 3  # 3 + 3 + 2
    assert sorted(r["status"] for r in _records(tmp_path).values()) == ["completed"] * 8


def test_what_a_replica_costs_in_memory():
    from reglab.replicas.memory import replica_bytes

    net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    parameters = 784 * 256 + 256 + 256 * 10 + 10
    outputs = 64 * (256 + 256 + 10)  # each module's output for a batch of 64
    assert replica_bytes(net, torch.zeros(64, 784)) == 4 * (8 * parameters + 2 * outputs)


@pytest.mark.slow
def test_dropout_jobs_in_a_pack_match_their_single_runs_statistically(tmp_path):
    """With dropout a replica draws other masks than its single run: per dropout rate, the
    mean training loss (the masks' statistic; the tests' images are learnt to 100% test
    accuracy) of 8 seeds stacked and of the same 8 jobs run alone agree within two standard
    errors of their difference."""
    sweep = [
        "-m",
        *FAST,
        "logger=csv",
        "model=mlp",
        "model.hidden=[64]",
        "regularizer.dropout=0.2,0.6",
        "seed=range(8)",
    ]
    _stacked_and_basic(sweep, tmp_path, "16 in 1 packs")

    def by_rate(sweep_dir: Path) -> dict[str, list[float]]:
        accs: dict[str, list[float]] = {}
        for overrides, record in _records(sweep_dir).items():
            rate = next(o for o in overrides if o.startswith("regularizer.dropout="))
            accs.setdefault(rate, []).append(record["train/loss"])
        return accs

    ours, theirs = by_rate(tmp_path / "s"), by_rate(tmp_path / "b")
    means = {}
    for rate, accs in theirs.items():
        a, b = torch.tensor(ours[rate]), torch.tensor(accs)
        error = (a.var() / len(a) + b.var() / len(b)).sqrt()
        assert abs(a.mean() - b.mean()) <= 2 * error + 1e-6, (rate, a, b)
        means[rate] = a.mean()
    # and the rates act: the packs' two rates are not one
    assert means["regularizer.dropout=0.2"] != means["regularizer.dropout=0.6"]


@pytest.mark.parametrize("key", ["max_pack", "n_jobs"])
@pytest.mark.parametrize("value", ["0", "-2", "x"])
def test_a_bad_max_pack_or_n_jobs_stops_the_sweep_naming_the_key(tmp_path, key, value):
    sweep = ["-m", "dataset=toy1d", "seed=0,1", "hydra/launcher=stacked"]
    result = run_main([*sweep, f"hydra.launcher.{key}={value}", f"hydra.sweep.dir={tmp_path}"])
    assert result.returncode == 1
    assert f"hydra.launcher.{key}" in result.stdout + result.stderr
    assert not any(p.name.isdigit() for p in tmp_path.iterdir())  # nothing trained


def test_seeds_jobs_in_a_stacked_sweep_run_as_with_the_basic_launcher(tmp_path):
    sweep = ["dataset=toy1d", "seeds=2", "regularizer.weight_decay=0.0,0.01"]
    output = _stacked_sweep(tmp_path, *sweep, "trainer.max_epochs=2", "logger=csv")
    assert "0 in 0 packs trained stacked (none), 2 one by one" in output
    assert "seeds=2 (its seeds train stacked on their own)" in output
    for job in ("0", "1"):
        record = json.loads((tmp_path / job / "metrics.json").read_text())
        assert record["replica_status"] == ["completed", "completed"]
        assert (tmp_path / job / "seed_43" / "metrics.json").is_file()


def test_each_packed_job_logs_to_its_own_wandb_run_in_the_sweeps_group(tmp_path):
    """A pack's jobs log live, each to its own W&B run in its own folder (as the basic
    launcher's jobs), grouped by the sweep, with its own config and its own numbers."""
    from reglab.loggers.wandb_offline import read_offline_run

    sweep = ["dataset=toy1d", "model.hidden=[8]", "trainer.max_epochs=2"]
    output = _stacked_sweep(tmp_path, *sweep, "regularizer.weight_decay=0.0,0.01", "logger=default")
    assert "2 in 1 pack" in output
    for job, decay in (("0", 0.0), ("1", 0.01)):
        [folder] = (tmp_path / job / "wandb").glob("offline-run-*")
        logged = read_offline_run(folder)
        assert logged.group == tmp_path.name and logged.exit_code == 0
        assert logged.config["regularizer"]["weight_decay"] == decay
        rows = list(csv.DictReader((tmp_path / job / "metrics.csv").open()))
        history = [h for h in logged.history if "train/loss" in h]
        assert [h["train/loss"] for h in history] == pytest.approx(
            [float(r["train/loss"]) for r in rows], rel=1e-6
        )


PER_CLASS = [
    "+callbacks.per_class._target_=reglab.callbacks.per_class.PerClassAccuracy",
    "+callbacks.per_class.output_dir=${paths.output_dir}",
]


@pytest.mark.parametrize(
    ("settings", "written"),
    [
        ([*FAST, "model.hidden=[16]", "optimizer.lr=0.003", *PER_CLASS], "per_class_accuracy.csv"),
        (["dataset=toy1d", "model.hidden=[8]", "trainer.max_epochs=2"], "fit.json"),
    ],
    ids=["per_class", "fit"],
)
def test_callbacks_write_each_packed_jobs_files_into_its_folder(tmp_path, settings, written):
    """Files callbacks write per replica (an instrument's table, the artifacts' fit.json) go
    to each packed job's own folder, from its own weights: what its single run writes (not
    seed_<k>/ folders inside the first job's)."""
    output = _stacked_sweep(tmp_path / "sweep", *settings, "logger=csv", "seed=0,1")
    assert "2 in 1 pack" in output
    assert not list((tmp_path / "sweep").glob("*/seed_*"))
    single = run_main([*settings, "logger=csv", "seed=1", f"hydra.run.dir={tmp_path / 'single'}"])
    assert single.returncode == 0, (single.stdout + single.stderr)[-3000:]
    mine, theirs = (tmp_path / "sweep" / "1" / written), tmp_path / "single" / written
    other = (tmp_path / "sweep" / "0" / written).read_text()
    assert other != mine.read_text()  # each job its own weights
    if written.endswith(".csv"):
        rows = [(r["correct"], r["total"]) for r in csv.DictReader(mine.open())]
        assert rows == [(r["correct"], r["total"]) for r in csv.DictReader(theirs.open())]
        return
    grid, twin = (json.loads(p.read_text())["grid"] for p in (mine, theirs))
    assert grid["x"] == pytest.approx(twin["x"]) and grid["y"] == pytest.approx(twin["y"], abs=1e-5)


def test_a_job_that_packs_with_none_says_what_keeps_it_apart(tmp_path):
    """Jobs that differ in a key no regularizer stacks per replica (what early stopping
    monitors) train one by one, and the plan names that key."""
    sweep = ["dataset=toy1d", "model.hidden=[8]", "trainer.max_epochs=2", "logger=csv"]
    sweep += [
        "regularizer=early_stopping",
        "regularizer.early_stopping.monitor=val/loss,train/loss",
    ]
    output = _stacked_sweep(tmp_path, *sweep)
    assert "0 in 0 packs trained stacked (none), 2 one by one" in output
    assert output.count("differs from the others in regularizer.early_stopping.monitor") == 2


def test_packed_jobs_stop_early_each_with_its_own_patience(tmp_path):
    """Early stopping's patience and min_delta may differ in a pack: each job stops where its
    single run stops, with its reason and best."""
    es = ["dataset=toy1d", "model.hidden=[8]", "logger=csv", "trainer.max_epochs=40"]
    es += ["regularizer=early_stopping", "regularizer.early_stopping.min_delta=0.02"]
    output = _stacked_sweep(tmp_path / "sweep", *es, "regularizer.early_stopping.patience=1,3")
    assert "2 in 1 pack" in output
    stops = []
    for job, patience in (("0", 1), ("1", 3)):
        single = tmp_path / f"single{patience}"
        done = run_main(
            [*es, f"regularizer.early_stopping.patience={patience}", f"hydra.run.dir={single}"]
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        expected = json.loads((single / "metrics.json").read_text())["early_stopping"]
        got = json.loads((tmp_path / "sweep" / job / "metrics.json").read_text())
        got = got["early_stopping"]
        assert got["stopped"] and got["stopped_epoch"] == expected["stopped_epoch"]
        assert got["reason"] == expected["reason"]
        assert got["best"] == pytest.approx(expected["best"], rel=1e-5)
        stops.append(got["stopped_epoch"])
    assert stops[0] < stops[1]  # each its own patience


# -- packs side by side in worker processes (hydra.launcher.n_jobs) ----------------------------
def testfill_workers_splits_the_largest_packs_until_each_worker_has_one():
    assert fill_workers([[0, 1, 2, 3, 4]], 2) == [[0, 1, 2], [3, 4]]
    assert fill_workers([[0, 1, 2, 3], [4]], 3) == [[0, 1], [2, 3], [4]]
    assert fill_workers([[0], [1]], 4) == [[0], [1]]  # lone jobs do not split
    assert fill_workers([[0, 1, 2]], 1) == [[0, 1, 2]]


def test_packs_in_worker_processes_equal_the_basic_launchers_jobs(tmp_path, basic_toy_sweep):
    """n_jobs=2: the one pack of 8 splits into two packs of 4, one in each of 2 worker
    processes (each on one thread), with the basic launcher's numbers and files; each record
    names the command the user typed, not the worker's. The sweep's default folder (named by
    the time and the launcher's run token) is the workers' folder too: one folder."""
    command = [*TOY_SWEEP, "hydra/launcher=stacked", "hydra.launcher.n_jobs=2"]
    stacked = run_cli(command)
    output = stacked.stdout + stacked.stderr
    assert stacked.returncode == 0, output[-3000:]
    (sweep,) = (tmp_path / "logs").glob("*/multiruns/*")  # REGLAB_LOG_DIR (conftest)
    assert "8 in 2 packs trained stacked (4, 4)" in output
    assert "Running 2 units in 2 worker processes" in output
    _assert_same_results(sweep, basic_toy_sweep, rel=1e-5)
    # the report, drawn by the 2 idle workers: the one this process builds from the folder
    assert "Drawing the sweep report in 2 worker processes" in output
    page = (sweep / "report.md").read_text()
    drawn = {p.name for p in sweep.iterdir() if p.is_file()}
    assert {"summary.csv", "comparison.png", "comparison.svg", "weight_histograms.png"} <= drawn
    assert {p.name for p in build_report(sweep)} <= drawn
    assert (sweep / "report.md").read_text() == page
    for record in _records(sweep).values():
        assert "hydra.launcher.n_jobs=2" in record["provenance"]["command"]
        assert "multiprocessing" not in record["provenance"]["command"]
    assert not (sweep / ".packs").exists()
    for log_file in sweep.glob("*/train.log"):  # Lightning's lines too, as basic's
        assert "`Trainer.fit` stopped: `max_epochs=" in log_file.read_text(), log_file


SIDE_BY_SIDE = [  # 4 jobs: 2 packs of 2 in 2 workers, long enough to be stopped mid-way
    "-m",
    "dataset=toy1d",
    "model.hidden=[16,16]",
    "trainer.max_epochs=400",
    "trainer.check_val_every_n_epoch=100",
    "logger=csv",
    "regularizer.weight_decay=0.0,0.01",
    "seed=0,1",
    "hydra/launcher=stacked",
    "hydra.launcher.n_jobs=2",
]


def _kill(tmp_path: Path, signal_name: str, target: str, epoch: int = 3) -> list[str]:
    return [
        "+callbacks.kill._target_=tests.helpers.KillAt",
        f"+callbacks.kill.epoch={epoch}",
        f"+callbacks.kill.marker={tmp_path / 'killed'}",
        f"+callbacks.kill.signal={signal_name}",
        f"+callbacks.kill.target={target}",
    ]


def _without_kill(records: dict) -> dict:
    return {tuple(o for o in k if "callbacks.kill" not in o): r for k, r in records.items()}


def test_ctrl_c_to_a_launcher_with_workers_stops_every_pack_and_the_same_command_continues(
    tmp_path,
):
    """SIGINT to the launcher (a terminal's Ctrl-C reaches only it: its workers have their own
    process group) reaches both workers once: each pack writes its jobs as of its last
    checkpoint (interrupted), exit 1; the same command continues them to the numbers of an
    uninterrupted sweep."""
    command = [*SIDE_BY_SIDE, *_kill(tmp_path, "SIGINT", "parent", epoch=150)]
    command.append(f"hydra.sweep.dir={tmp_path / 's'}")
    first = run_cli(command)
    output = first.stdout + first.stderr
    assert first.returncode == 1, output[-3000:]
    assert "Interrupted (Ctrl-C)" in output
    # the pack that sent it is interrupted; the other one too, unless a loaded machine had
    # it still starting (nothing started: no folders) or already done
    statuses = [r["status"] for r in _records(tmp_path / "s").values()]
    assert statuses.count("interrupted") >= 2, output[-3000:]
    assert set(statuses) <= {"interrupted", "completed"}, statuses
    again = run_cli(command)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-3000:]
    assert "after epoch 100" in output, output[-3000:]  # a pack went on from its checkpoint
    alone = run_main([*SIDE_BY_SIDE[:-1], f"hydra.sweep.dir={tmp_path / 'one'}"])
    assert alone.returncode == 0, alone.stderr[-3000:]
    resumed = _without_kill(_records(tmp_path / "s"))
    for overrides, expected in _without_kill(_records(tmp_path / "one")).items():
        overrides = tuple(o for o in overrides if "n_jobs" not in o)
        got = {tuple(o for o in k if "n_jobs" not in o): r for k, r in resumed.items()}[overrides]
        assert got["status"] == "completed" and got["epochs"] == expected["epochs"] == 400
        for key in (k for k in expected if "/" in k):
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-6), key


def test_a_worker_that_dies_fails_its_packs_jobs_and_the_others_finish(tmp_path):
    """SIGKILL (the out-of-memory killer) to one worker: its pack's jobs are `failed`, saying
    so; the other pack completes and the sweep's report is written (exit 1: jobs failed); the
    same command again trains the failed ones."""
    command = [*SIDE_BY_SIDE, *_kill(tmp_path, "SIGKILL", "self")]
    command.append(f"hydra.sweep.dir={tmp_path / 's'}")
    first = run_cli(command)
    output = first.stdout + first.stderr
    assert first.returncode == 1, output[-3000:]
    records = _records(tmp_path / "s")
    statuses = sorted(r["status"] for r in records.values())
    assert statuses == ["completed"] * 2 + ["failed"] * 2, output[-3000:]
    for record in records.values():
        if record["status"] == "failed":
            assert "killed by SIGKILL" in record["error"]
    assert (tmp_path / "s" / "summary.csv").is_file()
    again = run_cli(command)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert [r["status"] for r in _records(tmp_path / "s").values()] == ["completed"] * 4


def test_a_task_function_workers_cannot_import_runs_its_jobs_here(tmp_path):
    """A script's own @hydra.main task lives in its __main__ under the decorator's name: a
    spawned worker cannot get it by reference, so n_jobs=2 says so and runs the jobs in the
    launcher's process, as n_jobs=1."""
    script = tmp_path / "own_task.py"
    script.write_text(
        "import hydra\n\n\n"
        '@hydra.main(version_base="1.3", config_path=None)\n'
        "def main(cfg):\n"
        '    print("RAN", cfg.x)\n\n\n'
        'if __name__ == "__main__":\n'
        "    main()\n"
    )
    args = ["-m", "+x=1,2", "hydra/launcher=stacked", "hydra.launcher.n_jobs=2"]
    result = run_cli([*args, f"hydra.sweep.dir={tmp_path / 's'}"], script=script)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "cannot be sent to worker processes" in output
    assert "RAN 1" in output and "RAN 2" in output
