"""Runs that survive: SIGKILL then resume=true gives exactly the uninterrupted run; Ctrl-C
stops cleanly; unwritable or full disks give a clear message."""

import csv
import json
import signal

import torch

from .conftest import FAST, run_cli, run_main

RUN = [*FAST, "trainer.max_epochs=4", "regularizer=dropout"]  # dropout: RNG state matters


def _killer(tmp_path, epoch=2, sig="SIGKILL"):
    return [
        "+callbacks.killer._target_=tests.helpers.KillAt",
        f"+callbacks.killer.epoch={epoch}",
        f"+callbacks.killer.marker={tmp_path / 'killed'}",
        f"+callbacks.killer.signal={sig}",
    ]


def _rows(path):
    drop = {"epoch_s", "elapsed_s"}
    return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(path.open())]


def _weights(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    # Only the killed run needs a process of its own (SIGKILL ends it); the reference and the
    # resumed run go through the same command line in this one (run_main).
    reference = tmp_path / "reference"
    result = run_main([*RUN, f"hydra.run.dir={reference}"])
    assert result.returncode == 0, result.stderr[-3000:]

    killed = run_cli([*RUN, *_killer(tmp_path)])
    assert killed.returncode == -signal.SIGKILL
    (run_dir,) = (tmp_path / "logs" / "train" / "runs").iterdir()
    assert not (run_dir / "metrics.json").exists()  # killed: nothing was finalised
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["epoch"] == 1  # the second epoch (0-based) was checkpointed
    wandb_id = (run_dir / "wandb_id").read_text()

    resumed = run_main([*RUN, *_killer(tmp_path), "resume=true"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming {run_dir}" in resumed.stdout + resumed.stderr
    record = json.loads((run_dir / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    assert record["status"] == "completed" and record["epochs"] == 4
    for key, value in expected.items():
        if "/" in key:
            assert record[key] == value, key  # exactly, on CPU
    a, b = _weights(reference), _weights(run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _rows(run_dir / "metrics.csv") == _rows(reference / "metrics.csv")
    # the same W&B run goes on: same id, a second offline segment of it
    assert (run_dir / "wandb_id").read_text() == wandb_id
    segments = list((run_dir / "wandb").glob(f"offline-run-*-{wandb_id.strip()}"))
    assert len(segments) == 2

    # Nothing left to resume now: a clear message, no traceback.
    again = run_main([*RUN, *_killer(tmp_path), "resume=true"])
    assert again.returncode == 1
    assert "completed; nothing to resume" in again.stdout + again.stderr


def test_resume_without_a_run_says_what_it_looked_for(tmp_path):
    result = run_main([*RUN, "resume=true"])
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "resume=true: no run with the overrides" in output and "ckpt_path=" in output
    result = run_main([*RUN, f"ckpt_path={tmp_path}/nope.ckpt"])
    assert result.returncode == 1 and "no such file" in result.stdout + result.stderr


def test_ctrl_c_stops_cleanly(tmp_path):
    out = tmp_path / "run"
    result = run_cli([*RUN, *_killer(tmp_path, epoch=1, sig="SIGINT"), f"hydra.run.dir={out}"])
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["epochs"] == 1
    assert (out / "checkpoints" / "on_exception.ckpt").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert len(_rows(out / "metrics.csv")) == 1
    from reglab.loggers.wandb_offline import read_offline_run

    (run_file,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    run = read_offline_run(run_file)  # the W&B run was finished: its file is complete
    assert [h["val/acc"] for h in run.history if "val/acc" in h] == [record["val/acc"]]


def test_unwritable_output_folder_is_one_clear_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for target in (f"hydra.run.dir={blocker}/run", f"hydra.run.dir={blocker}/sub/run"):
        result = run_main([*FAST, "logger=csv", target])
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert f"Cannot write {blocker}" in result.stderr
        assert "not a folder" in result.stderr and "paths.log_dir" in result.stderr
    result = run_main(["-m", *FAST, "seed=0,1", "logger=csv", f"hydra.sweep.dir={blocker}/s"])
    assert result.returncode == 1 and f"Cannot write {blocker}" in result.stderr


def test_full_disk_is_one_clear_line(tmp_path):
    # Results are written atomically (a temporary file renamed over the target), so a
    # /dev/full symlink no longer catches a write: a file size limit does (EFBIG), without
    # root. The checkpoint (~1 MB) is over the limit; metrics.json is not.
    import shlex
    import subprocess
    import sys

    from .conftest import REPO

    out = tmp_path / "run"
    args = [sys.executable, str(REPO / "train.py"), *FAST, "logger=csv", f"hydra.run.dir={out}"]
    script = f"trap '' XFSZ; ulimit -f 600; exec {shlex.join(args)}"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    output = result.stdout + result.stderr
    assert f"Cannot write {out / 'checkpoints'}" in output and "ulimit -f" in output
    assert not list(out.rglob("*.tmp"))  # the half-written checkpoint was removed
    assert json.loads((out / "metrics.json").read_text())["status"] == "failed"


def _fake_run(runs, name, overrides, status=None, ckpt=True):
    import yaml

    run = runs / name
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if ckpt:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    if status:
        (run / "metrics.json").write_text(json.dumps({"status": status}))
    return run


def test_resume_picks_the_newest_unfinished_run_with_the_same_overrides(tmp_path):
    import pytest

    from reglab.app.resume import resume_point
    from reglab.config import ConfigError

    runs = tmp_path / "runs"
    older = _fake_run(runs, "2026-01-01_10-00-00_a", ["seed=1"], status="interrupted")
    _fake_run(runs, "2026-01-01_11-00-00_b", ["seed=2"])  # other overrides
    newer = _fake_run(runs, "2026-01-01_12-00-00_c", ["seed=1"])  # killed: no metrics.json
    _fake_run(runs, "2026-01-01_13-00-00_d", ["seed=1"], ckpt=False)  # died before a ckpt
    current = runs / "2026-01-01_14-00-00_e"
    point = resume_point(True, None, current, ["seed=1", "resume=true"], multirun=False)
    assert point.run_dir == newer and point.ckpt == newer / "checkpoints" / "last.ckpt"
    assert older != newer
    # in a multirun, each job continues from its own folder only
    job = _fake_run(tmp_path / "sweep", "3", ["seed=1"])
    assert resume_point(True, None, job, ["seed=1"], multirun=True).run_dir == job
    fresh = tmp_path / "sweep" / "4"
    assert resume_point(True, None, fresh, ["seed=1"], multirun=True) is None
    assert resume_point(False, None, job, ["seed=1"], multirun=True) is None
    # an explicit checkpoint inside an unfinished run's folder continues in that folder when
    # it is the same run; another run's checkpoint starts a new folder (a run folder is its own
    # run's)
    older_ckpt = str(older / "checkpoints" / "last.ckpt")
    explicit = resume_point(False, older_ckpt, current, ["seed=1"], False)
    assert explicit.run_dir == older and explicit.init_from is None
    other = resume_point(False, older_ckpt, current, ["seed=2"], False)
    assert other.run_dir == current and other.init_from == older_ckpt
    with pytest.raises(ConfigError, match="no run with the overrides"):
        resume_point(True, None, current, ["seed=9"], multirun=False)
