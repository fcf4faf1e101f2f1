"""seeds=N whose replicas cannot be stacked: the seeds train one after another, each as its
single run, into the folders a stacked run writes (reglab.app.seeds_in_turn)."""

import csv
import json
import signal
from pathlib import Path

import lightning as L
import pytest
import torch

from reglab.app.job import run
from reglab.config.compose import compose_config
from reglab.report.jobs import load_jobs

from .conftest import run_main

# LBFGS is not elementwise: its seeds cannot be stacked
LBFGS = ["optimizer._target_=torch.optim.LBFGS", "~optimizer.momentum", "~optimizer.nesterov"]
# (toy1d steps an epoch's batches by hand, which LBFGS's closure cannot: a single run fails)
TOY = ["dataset.val_size=100", "dataset.batch_size=64", "model.hidden=[16]", "logger=csv"]
TOY += [*LBFGS, "optimizer.lr=0.1", "extras.print_config=false"]


class StopInReplica(L.Callback):
    """Raises `error` (KeyboardInterrupt: Ctrl-C; else RuntimeError) as epoch `epoch` of the
    run in folder `replica` starts, once (the marker file lets a resumed run go on)."""

    def __init__(self, replica: str, epoch: int, marker: str, error: str = "KeyboardInterrupt"):
        self.replica, self.epoch, self.marker, self.error = replica, epoch, Path(marker), error

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        here = Path(trainer.default_root_dir).name == self.replica
        if here and trainer.current_epoch == self.epoch and not self.marker.exists():
            self.marker.touch()
            raise KeyboardInterrupt if self.error == "KeyboardInterrupt" else RuntimeError("bug")


def _record(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def _rows(folder: Path) -> list[dict]:
    drop = {"epoch_s", "elapsed_s"}
    with open(folder / "metrics.csv") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def _net(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("net.")}


def _metrics(record: dict) -> dict:
    return {k: v for k, v in record.items() if k.startswith(("train/", "val/", "test/"))}


def _same_as_single_run(replica: Path, single: Path) -> None:
    """The replica's folder holds what the single run with its seed wrote: the same
    metrics, rows and weights, exactly (the same path, on the CPU)."""
    assert _metrics(_record(replica)) == _metrics(_record(single)) != {}
    assert _rows(replica) == _rows(single)
    for name in ("last.ckpt", "best.ckpt"):
        mine, theirs = _net(replica / "checkpoints" / name), _net(single / "checkpoints" / name)
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs), name


def test_lbfgs_seeds_train_one_after_another_as_their_single_runs(tmp_path):
    """A sweep job `seeds=2` with LBFGS: two replica folders equal to the single runs seed=3
    and seed=4, the run's record, and the sweep report reads them as jobs."""
    common = [*TOY, "trainer.max_epochs=3", "seed=3"]
    sweep = tmp_path / "sweep"
    result = run_main(["-m", *common, "seeds=2", f"hydra.sweep.dir={sweep}"])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "seeds=2 are not stacked: optimizer._target_=torch.optim.LBFGS" in output
    assert "one after another" in output
    job = sweep / "0"
    record = _record(job)
    assert record["status"] == "completed" and record["seeds"] == [3, 4]
    assert record["replicas"] == ["seed_3", "seed_4"]
    assert record["replica_status"] == ["completed", "completed"]
    assert (job / "curves.png").read_bytes()[:4] == b"\x89PNG"
    finals = []
    for seed in (3, 4):
        single = tmp_path / f"single{seed}"
        overrides = [o for o in common if o != "seed=3"]
        finals.append(run(compose_config([*overrides, f"seed={seed}"], single))["test/loss"])
        replica = job / f"seed_{seed}"
        _same_as_single_run(replica, single)
        saved = (replica / ".hydra" / "overrides.yaml").read_text()
        assert f"seed={seed}" in saved and "seeds" not in saved
        assert _record(replica)["replica_of"] == str(job)
    assert record["test/loss"] == pytest.approx(sum(finals) / 2, abs=1e-12)
    # the report: the job stands for its replicas, each a job with seed=k
    jobs = load_jobs(sweep)
    assert [j.path.name for j in jobs] == ["seed_3", "seed_4"]
    assert all(j.status == "completed" and j.rows for j in jobs)
    summary = (sweep / "summary.csv").read_text().splitlines()
    assert next(csv.DictReader(summary))["seeds"] == "2"


def test_an_interrupted_run_in_turn_keeps_finished_replicas_and_resumes(tmp_path):
    """Ctrl-C in the second replica: the first stays completed, the second is interrupted as
    its single run would be, the third recorded as not started; resume=true keeps the first
    untouched, continues the second from its last.ckpt and trains the third, ending where an
    uninterrupted run ends."""
    common = [*TOY, "trainer.max_epochs=3", "seeds=3"]
    reference = tmp_path / "reference"
    run(compose_config(common, reference))
    out = tmp_path / "run"
    stop = ["+callbacks.stop._target_=tests.test_seeds_in_turn.StopInReplica"]
    stop += ["+callbacks.stop.replica=seed_43", "+callbacks.stop.epoch=2"]
    stop += [f"+callbacks.stop.marker={tmp_path / 'stopped'}"]
    try:
        with pytest.raises(SystemExit) as stopped:
            run(compose_config([*common, *stop], out))
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # shielded while recording
    assert stopped.value.code == 1
    record = _record(out)
    assert record["status"] == "interrupted"
    assert record["replica_status"] == ["completed", "interrupted", "interrupted"]
    assert _record(out / "seed_43")["epochs"] == 2  # as its single run records an interrupt
    assert _record(out / "seed_44")["epochs"] == 0  # not started, yet in the layout
    assert (out / "seed_44" / ".hydra" / "overrides.yaml").is_file()
    first = (out / "seed_42" / "metrics.json").read_bytes()

    resumed = run(compose_config([*common, *stop, "resume=true"], out))
    assert resumed["status"] == "completed"
    assert resumed["replica_status"] == ["completed"] * 3
    assert (out / "seed_42" / "metrics.json").read_bytes() == first  # kept, not retrained
    for seed in (42, 43, 44):
        replica, expected = out / f"seed_{seed}", reference / f"seed_{seed}"
        assert _metrics(_record(replica)) == _metrics(_record(expected)), seed
        assert _rows(replica) == _rows(expected), seed
        mine, theirs = (_net(f / "checkpoints" / "last.ckpt") for f in (replica, expected))
        assert all(torch.equal(mine[k], theirs[k]) for k in theirs), seed
    assert _metrics(resumed) == _metrics(_record(reference))


def test_a_replica_that_crashes_does_not_stop_the_others(tmp_path):
    out = tmp_path / "run"
    crash = ["+callbacks.stop._target_=tests.test_seeds_in_turn.StopInReplica"]
    crash += ["+callbacks.stop.replica=seed_42", "+callbacks.stop.epoch=0"]
    crash += [f"+callbacks.stop.marker={tmp_path / 'crashed'}", "+callbacks.stop.error=crash"]
    record = run(compose_config([*TOY, "trainer.max_epochs=2", "seeds=2", *crash], out))
    assert record["replica_status"] == ["failed", "completed"]
    assert record["status"] == "completed"  # the means are the completed replica's
    assert _record(out / "seed_42")["error"] == "RuntimeError: bug"
    assert record["train/loss"] == _record(out / "seed_43")["train/loss"]
