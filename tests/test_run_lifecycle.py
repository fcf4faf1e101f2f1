"""Resume and checkpoints: runs are found by their overrides as a set and by time, an
explicit run folder is resumed, a completed run's files are never rewritten, results are
written atomically, and a full disk is one message after which the same command works."""

import errno
import json
import os
import signal
import subprocess

import pytest
import yaml

from reglab.app.job import run
from reglab.app.resume import resume_point
from reglab.config import ConfigError
from reglab.config.compose import compose_config
from reglab.outputs.atomic import atomic_write, read_json

from .conftest import FAST, run_cli, run_main


def _fake_run(folder, overrides, status=None, ckpt=True, metrics_text=None):
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if ckpt:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "last.ckpt").write_bytes(b"")
    if status:
        (folder / "metrics.json").write_text(json.dumps({"status": status}))
    if metrics_text is not None:
        (folder / "metrics.json").write_text(metrics_text)
    return folder


def test_resume_compares_overrides_as_a_set(tmp_path):
    runs = tmp_path / "runs"
    killed = _fake_run(runs / "2026-01-01_10-00-00_a", ["seed=6", "trainer.max_epochs=5"])
    current = runs / "2026-01-01_11-00-00_b"
    again = ["trainer.max_epochs=5", "seed=6", "resume=true"]  # typed in another order
    assert resume_point(True, None, current, again, multirun=False).run_dir == killed


def test_resume_picks_the_newest_by_time_not_by_name(tmp_path):
    runs = tmp_path / "runs"
    named_later = _fake_run(runs / "2026-01-02_00-00-00_z", ["seed=1"], status="interrupted")
    active_later = _fake_run(runs / "2026-01-01_00-00-00_a", ["seed=1"])
    for path, when in ((named_later, 1_000), (active_later, 2_000)):
        for written in (path / "checkpoints" / "last.ckpt", path / "metrics.json", path):
            if written.exists():
                os.utime(written, (when, when))
    point = resume_point(True, None, runs / "new", ["seed=1"], multirun=False)
    assert point.run_dir == active_later


def test_resume_with_an_explicit_run_folder_resumes_it(tmp_path):
    runs = tmp_path / "runs"
    killed = _fake_run(runs / "2026-01-01_10-00-00_a", ["seed=1"])
    _fake_run(runs / "2026-01-01_12-00-00_b", ["seed=1"], status="completed")  # a newer sibling
    point = resume_point(True, None, killed, ["seed=1", f"hydra.run.dir={killed}"], False)
    assert point.run_dir == killed and point.ckpt == killed / "checkpoints" / "last.ckpt"
    done = _fake_run(tmp_path / "done", ["seed=1"], status="completed")
    with pytest.raises(ConfigError, match="holds a completed run"):
        resume_point(True, None, done, ["seed=1"], False)
    # interrupted during start-up: not another run's checkpoint, one line about this folder
    untrained = _fake_run(runs / "2026-01-01_13-00-00_c", ["seed=1"], "interrupted", ckpt=False)
    with pytest.raises(ConfigError, match="stopped before its first checkpoint"):
        resume_point(True, None, untrained, ["seed=1"], False)


def test_unreadable_metrics_json_means_not_completed(tmp_path, caplog):
    from reglab.report.jobs import load_jobs

    runs = tmp_path / "runs"
    empty = _fake_run(runs / "0", ["seed=1"], metrics_text="")  # 0 bytes: a full disk, before
    assert read_json(empty / "metrics.json") is None
    assert "treated as not completed" in caplog.text
    assert resume_point(True, None, runs / "new", ["seed=1"], False).run_dir == empty
    assert load_jobs(runs)[0].status == "missing"


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"status": "completed"}')

    def write_then_fill_up(f):
        f.write(b'{"sta')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as failure:
        atomic_write(path, write_then_fill_up)
    assert failure.value.filename == str(path)  # the message names the file
    assert path.read_text() == '{"status": "completed"}'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


def test_ctrl_c_inside_torch_save_is_still_an_interruption(tmp_path):
    """A Ctrl-C while torch.save writes leaves its zip writer's RuntimeError on the way out
    ("unexpected pos ..."): the write is abandoned (the old file stays, no temporary) and the
    interruption goes on as one, for the run to record it as interrupted."""
    path = tmp_path / "last.ckpt"
    path.write_bytes(b"old")

    def write_interrupted_then_wrapped(f):
        try:
            f.write(b"partial")
            raise KeyboardInterrupt
        finally:  # what torch.save's zip writer does when the `with` body is interrupted
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 64 vs 0")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write_interrupted_then_wrapped)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary left
    # any other error stays what it was
    with pytest.raises(RuntimeError, match="unexpected pos"):
        atomic_write(path, lambda f: (_ for _ in ()).throw(RuntimeError("unexpected pos 1")))


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_training_on_from_a_completed_run_leaves_it_byte_identical(tmp_path):
    first = tmp_path / "first"
    (first / ".hydra").mkdir(parents=True)  # as Hydra makes it
    assert run(compose_config([*FAST, "logger=csv"], first))["status"] == "completed"
    before = _snapshot(first)
    ckpt = first / "checkpoints" / "last.ckpt"
    second = tmp_path / "second"
    record = run(
        compose_config([*FAST, "logger=csv", "trainer.max_epochs=2", f"ckpt_path={ckpt}"], second)
    )
    assert record["status"] == "completed" and record["epochs"] == 2
    assert record["init_from"] == str(ckpt)
    assert json.loads((second / "metrics.json").read_text())["init_from"] == str(ckpt)
    assert _snapshot(first) == before  # not one byte of the completed run changed


def test_resume_true_with_an_explicit_killed_run_folder(tmp_path):
    """The issue's case: hydra.run.dir=X holds the killed run, and a completed sibling with
    the same overrides is newer by name: X is resumed."""
    runs = tmp_path / "logs" / "train" / "runs"
    killed = runs / "2026-01-01_00-00-00_x"
    common = [*FAST, "trainer.max_epochs=3", "logger=csv", f"hydra.run.dir={killed}"]
    killer = [
        "+callbacks.killer._target_=tests.helpers.KillAt",
        "+callbacks.killer.epoch=2",
        f"+callbacks.killer.marker={tmp_path / 'killed'}",
    ]
    assert run_cli([*common, *killer]).returncode == -signal.SIGKILL
    _fake_run(runs / "2099-01-01_00-00-00_z", [], status="completed")
    resumed = run_main([*common, *killer, "resume=true"])  # SIGKILL above needs a process
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    record = json.loads((killed / "metrics.json").read_text())
    assert record["status"] == "completed" and record["epochs"] == 3


def _mount_small_disk(folder, size="5m") -> bool:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    return mounted.returncode == 0


def test_full_disk_one_message_then_the_same_command_succeeds(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_small_disk(disk):
        pytest.skip("needs permission to mount a small tmpfs (root)")
    try:
        filler = disk / "filler"
        filler.write_bytes(bytes(3_700_000))  # leaves room for one checkpoint, not two
        command = [*FAST, "trainer.max_epochs=2", "logger=csv", f"hydra.run.dir={disk / 'run'}"]
        full = run_main(command)
        output = full.stdout + full.stderr
        assert full.returncode == 1
        assert "Traceback" not in output and "Logging error" not in output
        assert output.count("the disk is full") == 1
        assert f"Cannot write {disk / 'run'}" in output
        assert not list(disk.rglob("*.tmp"))  # no half-written file is left
        for ckpt in disk.rglob("*.ckpt"):  # what is there is whole
            import torch

            torch.load(ckpt, weights_only=False)
        filler.unlink()  # space is back
        again = run_main(command)
        assert again.returncode == 0, again.stderr[-3000:]
        assert json.loads((disk / "run" / "metrics.json").read_text())["status"] == "completed"
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
