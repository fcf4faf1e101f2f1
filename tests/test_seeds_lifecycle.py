"""`seeds=N` runs have the lifecycle of single runs: Ctrl-C / SIGTERM keep each replica's
checkpoints and an `interrupted` record, resume=true continues exactly, a diverged replica
keeps finite weights, a replica's checkpoint is not continued as a single run, eval.py says
so of non-finite weights. (SIGTERM for single runs and during start-up: test_sigterm.py.)"""

import csv
import json
import signal

import pytest
import torch

from reglab.app.job import run
from reglab.config.compose import compose_config

from .conftest import FAST, REPO, run_cli, run_main
from .helpers import poison_replica

SIGNAL_RUN = REPO / "tests" / "signal_run.py"
# a validation split (best.ckpt, the test on the best weights), dropout masks and momentum:
# every piece of state a resumed run must restore
BASE = [*FAST, "model.hidden=[16]", "regularizer.dropout=0.5", "logger=csv", "seeds=3", "seed=0"]
RUN = [*BASE, "optimizer.momentum=0.9"]
SEEDS = (0, 1, 2)


def _record(folder):
    return json.loads((folder / "metrics.json").read_text())


def _rows(folder):
    drop = {"epoch_s", "elapsed_s"}
    rows = csv.DictReader((folder / "metrics.csv").open())
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


def _net(path):
    # a replica's checkpoint loads without unpickling code
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def _run_interrupted(overrides, folder):
    """Runs in this process a run that a (patched-in) Ctrl-C stops: it exits with 1."""
    try:
        with pytest.raises(SystemExit) as stopped:
            run(compose_config(overrides, folder))
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # shielded while recording
    assert stopped.value.code == 1


def _ctrl_c_in_epoch(monkeypatch, epoch: int):
    """Ctrl-C as the stack's `epoch` (0-based) starts; returns what undoes the patch."""
    from reglab.replicas.batches import ReplicaBatches

    epoch_batches = ReplicaBatches.epoch

    def interrupted(self, e):
        if e == epoch:
            raise KeyboardInterrupt
        yield from epoch_batches(self, e)

    monkeypatch.setattr(ReplicaBatches, "epoch", interrupted)
    return lambda: monkeypatch.setattr(ReplicaBatches, "epoch", epoch_batches)


def _same_replicas(mine, theirs, stages=("train/", "val/", "test/")):
    """Every replica: the same metrics, rows and weights, exactly (CPU)."""
    for seed in SEEDS:
        a, b = mine / f"seed_{seed}", theirs / f"seed_{seed}"
        expected = {k: v for k, v in _record(b).items() if k.startswith(stages)}
        assert expected and {k: _record(a).get(k) for k in expected} == expected, seed
        assert _rows(a) == _rows(b), seed
        for name in ("last.ckpt", "best.ckpt"):
            x, y = _net(a / "checkpoints" / name), _net(b / "checkpoints" / name)
            assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), (seed, name)


# SIGTERM takes SIGINT's path (reglab.app.signals; a single run's SIGTERM: test_sigterm.py),
# so its ~20 s run is in the slow suite
@pytest.mark.parametrize(
    "sig", ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.slow), "SIGKILL"]
)
def test_an_interrupted_seeds_run_keeps_every_replica_and_resumes_exactly(tmp_path, sig):
    out = tmp_path / "run"
    args = [*RUN, "trainer.max_epochs=3", f"hydra.run.dir={out}"]
    # mid-epoch 3 (two epochs completed), as Ctrl-C, `kill` / SLURM / Kubernetes, or the OOM
    # killer would stop it
    stopped = run_cli(["epoch:2", sig, str(tmp_path / "sent"), *args], script=SIGNAL_RUN)
    output = stopped.stdout + stopped.stderr
    if sig == "SIGKILL":
        assert stopped.returncode == -signal.SIGKILL
        assert not (out / "metrics.json").exists()  # nothing could be finalised
    else:
        assert stopped.returncode == 1, output[-3000:]
        assert "Traceback" not in output and "start-up" not in output
        how = "Ctrl-C" if sig == "SIGINT" else "SIGTERM"
        assert (
            f"Interrupted ({how}): each replica's checkpoints and metrics as of epoch 2" in output
        )
        record = _record(out)
        assert record["status"] == "interrupted" and record["epochs"] == 2
        assert record["replica_status"] == ["interrupted"] * 3
        # each replica as of its last completed epoch: what a 2-epoch run leaves
        two = tmp_path / "two"
        run(compose_config([*RUN, "trainer.max_epochs=2"], two))
        for seed in SEEDS:
            replica = _record(out / f"seed_{seed}")
            assert replica["status"] == "interrupted" and replica["epochs"] == 2
            assert not any(k.startswith("test/") for k in replica)  # not tested
        _same_replicas(out, two, stages=("train/", "val/"))
    # the run's own state after epoch 2: what resume=true goes on from (no code in it)
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["epoch"] == 1

    resumed = run_main([*args, "resume=true"])
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    assert "Continuing 3 replicas after epoch 2" in resumed.stdout + resumed.stderr
    reference = tmp_path / "reference"
    run(compose_config([*RUN, "trainer.max_epochs=3"], reference))
    record, expected = _record(out), _record(reference)
    assert record["status"] == "completed" and record["epochs"] == 3
    assert {k: v for k, v in record.items() if "/" in k} == {
        k: v for k, v in expected.items() if "/" in k
    }
    _same_replicas(out, reference)


def test_resume_continues_stopped_replicas_as_they_stopped(tmp_path, monkeypatch):
    """Early-stopped and diverged replicas stay as they were when the run went on: their
    weights and optimizer state held, the others exact."""
    poison_replica(monkeypatch, epoch=1)  # replica 1 turns NaN in its second epoch
    es = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=csv", "seeds=3", "seed=0"]
    es += ["regularizer=early_stopping", "regularizer.early_stopping.patience=1"]
    es += ["regularizer.early_stopping.min_delta=0.05", "optimizer=adam", "optimizer.lr=0.02"]
    reference = tmp_path / "reference"
    run(compose_config([*es, "trainer.max_epochs=6"], reference))
    statuses = [_record(reference / f"seed_{s}")["status"] for s in SEEDS]
    assert statuses[1] == "diverged"
    stopped_early = [_record(reference / f"seed_{s}")["epochs"] for s in (0, 2)]
    assert stopped_early == [2, 4]  # one stops before the cut below, one after it

    out = tmp_path / "run"  # the same run, cut after 3 epochs, then resumed to 6
    run(compose_config([*es, "trainer.max_epochs=3"], out))
    (out / "metrics.json").unlink()  # as if killed after its 3rd epoch
    again = [*es, "trainer.max_epochs=6", f"hydra.run.dir={out}", "resume=true"]
    resumed = run_main(again)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    assert [_record(out / f"seed_{s}")["status"] for s in SEEDS] == statuses
    for seed in SEEDS:
        a, b = out / f"seed_{seed}", reference / f"seed_{seed}"
        assert _rows(a) == _rows(b), seed
        x, y = _net(a / "checkpoints" / "last.ckpt"), _net(b / "checkpoints" / "last.ckpt")
        assert all(torch.equal(x[k], y[k]) for k in x), seed


@pytest.mark.parametrize(
    "model",
    [["model=linear"], ["model=mlp", "model.hidden=[8]", "model.norm=batch"]],
    ids=["linear", "mlp_bn"],
)
def test_a_diverged_replica_keeps_its_last_finite_weights(tmp_path, monkeypatch, model):
    """... and running statistics (NaN inputs make them NaN in the epoch it diverges in)."""
    toy = ["dataset=toy1d", *model, "logger=csv", "seeds=3"]
    two = tmp_path / "two"
    run(compose_config([*toy, "trainer.max_epochs=2"], two))
    poison_replica(monkeypatch, epoch=2)  # replica 1 turns NaN in its third epoch
    out = tmp_path / "run"
    run(compose_config([*toy, "trainer.max_epochs=5"], out))
    record = _record(out / "seed_43")
    assert record["status"] == "diverged" and record["epochs"] == 2
    ckpt = out / "seed_43" / "checkpoints" / "last.ckpt"
    weights = _net(ckpt)
    assert all(t.isfinite().all() for t in weights.values())
    expected = _net(two / "seed_43" / "checkpoints" / "last.ckpt")  # after its 2nd epoch
    assert all(torch.equal(weights[k], expected[k]) for k in expected)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1  # 2 epochs, counted from 0


def test_eval_of_non_finite_weights_is_one_line(tmp_path):
    first = tmp_path / "first"
    run(compose_config(["dataset=toy1d", "model=linear", "logger=csv"], first))
    ckpt = torch.load(first / "checkpoints" / "last.ckpt", weights_only=False)
    name = next(k for k in ckpt["state_dict"] if k.startswith("net."))
    ckpt["state_dict"][name] = torch.full_like(ckpt["state_dict"][name], float("nan"))
    nan = tmp_path / "nan.ckpt"
    torch.save(ckpt, nan)
    result = run_main([f"ckpt_path={nan}"], entry="eval")
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    assert f"ckpt_path={nan}: its weights are not finite (NaN or inf in {name})" in output
    assert "test/" not in output  # no number was reported


def test_a_replica_checkpoint_is_not_continued_as_a_single_run(tmp_path):
    out = tmp_path / "run"
    assert run(compose_config([*RUN], out))["status"] == "completed"
    replica = out / "seed_1"
    before = (replica / "metrics.json").read_bytes()
    single = [*FAST, "model.hidden=[16]", "logger=csv", "trainer.max_epochs=2"]
    cases = {
        # a replica's weights: no Lightning training state to go on from
        f"ckpt_path={replica / 'checkpoints' / 'last.ckpt'}": "is a checkpoint of replica seed=1",
        # the run's state: all replicas together
        f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}": "is the state of a seeds=3 run",
    }
    for override, message in cases.items():
        result = run_main([*single, override, f"hydra.run.dir={tmp_path / 'new'}"])
        output = result.stdout + result.stderr
        assert result.returncode == 1 and message in output and "Traceback" not in output
    assert (replica / "metrics.json").read_bytes() == before  # its record is untouched
    evaluated = run_main([f"ckpt_path={out / 'checkpoints' / 'last.ckpt'}"], entry="eval")
    output = evaluated.stdout + evaluated.stderr
    assert evaluated.returncode == 1 and "Traceback" not in output
    assert "is the state of a seeds=3 run" in output and "seed_0/checkpoints/last.ckpt" in output

    result = run_main([*RUN, f"ckpt_path={replica / 'checkpoints' / 'last.ckpt'}"])
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "is a checkpoint of replica seed=1" in output
    assert "Traceback" not in output and str(out / "checkpoints" / "last.ckpt") in output

    # a seeds=N run does not resume from a single run's checkpoint
    lone = tmp_path / "lone"
    run(compose_config(single, lone))
    (lone / "metrics.json").unlink()  # as if killed
    result = run_main([*RUN, "trainer.max_epochs=3", f"hydra.run.dir={lone}", "resume=true"])
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "is a single run's checkpoint, not a seeds=N" in output


@pytest.mark.parametrize("norm", ["none", "batch"])
def test_an_interrupt_goes_back_to_the_last_checkpoint(tmp_path, monkeypatch, norm):
    """Validating (and checkpointing) every 3rd epoch, as the toy experiments validate every
    20th: an interrupt in epoch 5 leaves each replica as of epoch 3, as a single run's
    last.ckpt would; resume=true still ends exactly where an uninterrupted run ends (with
    BatchNorm: its running statistics too, saved and restored with the weights)."""

    toy = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", f"model.norm={norm}", "logger=csv"]
    toy += ["seeds=2"]
    toy += ["regularizer.dropout=0.3", "trainer.check_val_every_n_epoch=3"]
    toy += ["regularizer=lr_decay", "regularizer.lr_decay.step_size=2"]  # scheduler state
    three, reference = tmp_path / "three", tmp_path / "reference"
    run(compose_config([*toy, "trainer.max_epochs=3"], three))
    run(compose_config([*toy, "trainer.max_epochs=7"], reference))
    assert len({row["train/lr"] for row in _rows(reference / "seed_42")}) == 4  # lr decays
    undo = _ctrl_c_in_epoch(monkeypatch, 4)
    out = tmp_path / "run"
    _run_interrupted([*toy, "trainer.max_epochs=7"], out)
    record = _record(out)
    assert record["status"] == "interrupted" and record["epochs"] == 3
    for seed in (42, 43):
        replica = out / f"seed_{seed}"
        assert _record(replica)["epochs"] == 3 and len(_rows(replica)) == 3
        assert _rows(replica) == _rows(three / f"seed_{seed}")
        x, y = (
            _net(replica / "checkpoints" / "last.ckpt"),
            _net(three / f"seed_{seed}" / "checkpoints" / "last.ckpt"),
        )
        assert all(torch.equal(x[k], y[k]) for k in y)

    undo()
    resumed = run_main([*toy, "trainer.max_epochs=7", f"hydra.run.dir={out}", "resume=true"])
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    for seed in (42, 43):
        a, b = out / f"seed_{seed}", reference / f"seed_{seed}"
        assert _rows(a) == _rows(b) and len(_rows(a)) == 7
        x, y = _net(a / "checkpoints" / "last.ckpt"), _net(b / "checkpoints" / "last.ckpt")
        assert all(torch.equal(x[k], y[k]) for k in y)


def test_ckpt_path_continues_a_seeds_run_in_a_new_folder(tmp_path):
    """`ckpt_path=<a seeds=N run>/checkpoints/last.ckpt` (Lightning's `fit(ckpt_path=...)`):
    a finished run's replicas train on in this run's folder, as a single run's checkpoint
    does, ending where an uninterrupted run ends."""
    two, reference, out = tmp_path / "two", tmp_path / "reference", tmp_path / "run"
    run(compose_config([*RUN, "trainer.max_epochs=2"], two))
    run(compose_config([*RUN, "trainer.max_epochs=3"], reference))
    ckpt = two / "checkpoints" / "last.ckpt"
    record = run(compose_config([*RUN, "trainer.max_epochs=3", f"ckpt_path={ckpt}"], out))
    assert record["status"] == "completed" and record["epochs"] == 3
    assert _record(two)["epochs"] == 2  # its files stay as they are
    _same_replicas(out, reference)
    # a checkpoint written when the rows were a str (now their UTF-8 bytes in a tensor)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    for callback_state in state["callbacks"].values():
        if "rows_json" in callback_state:
            texts = callback_state["rows_json"]
            callback_state["rows_json"] = [t.numpy().tobytes().decode() for t in texts]
    older, out = tmp_path / "older.ckpt", tmp_path / "from_older"
    torch.save(state, older)
    run(compose_config([*RUN, "trainer.max_epochs=3", f"ckpt_path={older}"], out))
    _same_replicas(out, reference)
    # one written before the rows were the writer's state and the best weights the
    # checkpoint callback's: the replicas' loop state held them
    writer = state["callbacks"].pop("EpochMetricsWriter")
    best = state["callbacks"].pop("ReplicaCheckpoints")
    loop = state["reglab_replicas"]["loop"]
    for outcome, text, epoch in zip(
        loop["outcomes"], writer["rows_json"], best["best_epochs"], strict=True
    ):
        outcome.update(rows_json=text, best_epoch=epoch)
    loop.update({key: best[key] for key in ("best_value", "best_params", "best_buffers")})
    oldest, out = tmp_path / "oldest.ckpt", tmp_path / "from_oldest"
    torch.save(state, oldest)
    run(compose_config([*RUN, "trainer.max_epochs=3", f"ckpt_path={oldest}"], out))
    _same_replicas(out, reference)


def test_early_stopping_goes_on_counting_after_resume(tmp_path, monkeypatch):
    """The early-stopping counters travel in the run's checkpoint (the callback's state): an
    interrupted and resumed stack stops each replica where an uninterrupted one does."""

    es = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=csv", "seeds=3", "seed=0"]
    es += ["regularizer=early_stopping", "regularizer.early_stopping.patience=2"]
    es += ["regularizer.early_stopping.min_delta=0.02", "trainer.max_epochs=40"]
    reference, out = tmp_path / "reference", tmp_path / "run"
    run(compose_config(es, reference))
    stops = [_record(reference / f"seed_{s}")["early_stopping"] for s in SEEDS]
    assert len({s["stopped_epoch"] for s in stops}) > 1 and all(s["stopped"] for s in stops)
    middle = min(s["stopped_epoch"] for s in stops) - 1  # after some replica has waited
    undo = _ctrl_c_in_epoch(monkeypatch, middle)
    _run_interrupted(es, out)
    undo()
    resumed = run_main([*es, f"hydra.run.dir={out}", "resume=true"])
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    for seed, expected in zip(SEEDS, stops, strict=True):
        assert _record(out / f"seed_{seed}")["early_stopping"] == expected
        assert _rows(out / f"seed_{seed}") == _rows(reference / f"seed_{seed}")


def test_an_interrupt_after_training_keeps_the_runs_record(tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM while the run draws its curves.png, every replica's files written:
    the run's metrics.json still says what was trained (not 'interrupted before the first
    epoch')."""
    import reglab.app.replicas as replicas

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(replicas, "plot_replica_curves", interrupted)
    out = tmp_path / "run"
    _run_interrupted([*RUN, "trainer.max_epochs=2"], out)
    record = _record(out)
    assert record["status"] == "completed" and record["epochs"] == 2
    assert record["seeds"] == list(SEEDS)
    assert all(_record(out / f"seed_{s}")["status"] == "completed" for s in SEEDS)


def test_replicas_log_live_and_an_interrupt_closes_their_runs_as_failed(tmp_path, monkeypatch):
    """Each replica's W&B run gets its epochs while the stack trains (not replayed at the
    end): a run interrupted in its 4th epoch has each replica's first 3 epochs in its own W&B
    run, closed with exit code 1 as an interrupted single run's; its resumed run goes on in
    the same W&B run and ends with exit code 0."""
    from reglab.loggers.wandb_offline import read_offline_run

    toy = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=default", "seeds=2"]
    toy += ["trainer.max_epochs=5", "callbacks.progress_bar=null"]
    undo = _ctrl_c_in_epoch(monkeypatch, 3)
    out = tmp_path / "run"
    _run_interrupted(toy, out)

    def runs(seed):
        return [read_offline_run(f) for f in sorted((out / f"seed_{seed}" / "wandb").glob("off*"))]

    for seed in (42, 43):
        [first] = runs(seed)
        assert first.exit_code == 1 and first.config["seed"] == seed
        logged = [h["epoch"] for h in first.history if "train/loss" in h]
        assert logged == [0, 1, 2]
        assert first.history[0]["train/loss"] == pytest.approx(
            float(_rows(out / f"seed_{seed}")[0]["train/loss"]), rel=1e-6
        )
    undo()
    resumed = run_main([*toy, f"hydra.run.dir={out}", "resume=true"])
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    for seed in (42, 43):
        first, second = runs(seed)
        assert second.run_id == first.run_id and second.exit_code == 0
        assert [h["epoch"] for h in second.history if "train/loss" in h] == [3, 4]
        assert "test/loss" in second.summary


def test_a_stack_interrupted_before_its_first_checkpoint_has_nothing_to_resume(
    tmp_path, monkeypatch, caplog
):
    """Ctrl-C in the first epoch: the replicas' records say interrupted, and resume=true on
    the folder is one line saying there is nothing to go on from, as for a single run
    (not a run "resumed" from epoch 0)."""
    from reglab.app.resume import resume_point
    from reglab.config.errors import ConfigError

    toy = ["dataset=toy1d", "model=mlp", "model.hidden=[8]", "logger=csv", "seeds=2"]
    undo = _ctrl_c_in_epoch(monkeypatch, 0)
    out = tmp_path / "run"
    _run_interrupted(toy, out)
    undo()
    assert "before the replicas' first checkpoint" in caplog.text
    assert _record(out)["status"] == "interrupted"
    assert not (out / "checkpoints" / "last.ckpt").exists()
    with pytest.raises(ConfigError, match="stopped before its first checkpoint"):
        resume_point(True, None, out, [*toy, "resume=true"], multirun=False)
