"""A run folder is written only by its own run, one process at a time (reglab.run_folder):
eval never writes a training folder, another run never rewrites a record of any status, a
finished run is never written again, and a second writer gets one line naming the holder."""

import json
import os
import shutil
from pathlib import Path

import pytest

from reglab.app.records import record_failure
from reglab.run_folder import RunFolder
from tests.conftest import TOY, finished_run, run_main, snapshot


@pytest.fixture(scope="module")
def finished(tmp_path_factory, fmnist_root) -> Path:
    return finished_run(tmp_path_factory, fmnist_root, "owned")


def a_run(finished: Path, folder: Path, status: str, overrides=TOY) -> Path:
    """A copy of the finished run with another status (and the overrides it ran with)."""
    shutil.copytree(finished, folder)
    record = json.loads((folder / "metrics.json").read_text())
    (folder / "metrics.json").write_text(
        json.dumps(record | {"status": status, "overrides": list(overrides)})
    )
    return folder


def refused(result, *words: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output, output[-3000:]
    lines = [line for line in output.splitlines() if all(w in line for w in words)]
    assert len(lines) == 1, output[-3000:]
    return lines[0]


@pytest.mark.parametrize("status", ["completed", "interrupted", "diverged", "failed"])
def test_eval_never_writes_a_training_folder(finished, tmp_path, status):
    folder = a_run(finished, tmp_path / "run", status)
    before = snapshot(folder)
    ckpt = folder / "checkpoints" / "last.ckpt"
    result = run_main([f"ckpt_path={ckpt}", f"hydra.run.dir={folder}"], entry="eval")
    refused(result, "eval only reads a training folder")
    assert snapshot(folder) == before


@pytest.mark.parametrize("status", ["completed", "diverged"])
def test_a_finished_run_is_never_written_again(finished, tmp_path, status):
    folder = a_run(finished, tmp_path / "run", status)
    before = snapshot(folder)
    for extra in ([], ["resume=true"]):
        result = run_main([*TOY, *extra, f"hydra.run.dir={folder}"])
        refused(result, f"holds a {status} run")
    assert snapshot(folder) == before


@pytest.mark.parametrize("status", ["interrupted", "failed"])
def test_another_run_never_writes_an_unfinished_runs_folder(finished, tmp_path, status):
    folder = a_run(finished, tmp_path / "run", status)
    before = snapshot(folder)
    result = run_main([*TOY, "seed=7", f"hydra.run.dir={folder}"])
    refused(result, "holds another run")
    assert snapshot(folder) == before


def test_the_same_run_goes_on_in_its_own_folder(finished, tmp_path):
    longer = ["dataset=toy1d", "logger=csv", "trainer.max_epochs=2"]
    folder = a_run(finished, tmp_path / "run", "interrupted", longer)
    result = run_main([*longer, "resume=true", f"hydra.run.dir={folder}"])
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "completed" and record["epochs"] == 2


def test_a_diverged_runs_checkpoint_trains_on_in_a_new_folder(finished, tmp_path):
    folder = a_run(finished, tmp_path / "run", "diverged")
    before = snapshot(folder)
    new = tmp_path / "new"
    ckpt = folder / "checkpoints" / "last.ckpt"
    result = run_main(
        [
            *TOY[:1],
            "trainer.max_epochs=2",
            "logger=csv",
            f"ckpt_path={ckpt}",
            f"hydra.run.dir={new}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert snapshot(folder) == before
    assert json.loads((new / "metrics.json").read_text())["init_from"] == str(ckpt)


def test_a_second_writer_gets_one_line_naming_the_holder(finished, tmp_path):
    import subprocess
    import sys

    folder = a_run(finished, tmp_path / "run", "interrupted")
    hold = f"from reglab.run_folder import RunFolder; RunFolder({str(folder)!r}).hold(); "
    hold += "print('held', flush=True); import time; time.sleep(120)"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:  # a resume=true still training, in another process
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(folder)  # with the holder's pid in the lock file
        via_link = tmp_path / "link"
        via_link.symlink_to(folder)
        for where in (folder, via_link):  # its own folder, or a link to it
            result = run_main([*TOY, "resume=true", f"hydra.run.dir={where}"])
            line = refused(result, "being written by process")
            assert f"process {holder.pid}" in line
        # found by resume=true from a new folder: refused in train(), before it writes
        result = run_main([*TOY, "resume=true"], env={"REGLAB_LOG_DIR": str(tmp_path / "logs")})
        assert result.returncode == 1
    finally:
        holder.kill()
        holder.wait()
    assert snapshot(folder) == before  # not even Hydra's .hydra/ and train.log
    with RunFolder(folder).writing():  # released with its holder: the next writer gets it
        pass


@pytest.mark.parametrize("inside", ["checkpoints", ".hydra", "new_sub_folder"])
def test_no_run_or_eval_writes_inside_a_run_folder(finished, tmp_path, inside):
    folder = a_run(finished, tmp_path / "run", "completed")
    before = snapshot(folder)
    result = run_main([*TOY, "seed=3", f"hydra.run.dir={folder / inside}"])
    refused(result, "is inside the run folder")
    ckpt = folder / "checkpoints" / "last.ckpt"
    result = run_main([f"ckpt_path={ckpt}", f"hydra.run.dir={folder / inside}"], entry="eval")
    refused(result, "is inside the run folder")
    assert snapshot(folder) == before


def test_eval_never_writes_a_run_through_paths_output_dir(finished, tmp_path):
    folder = a_run(finished, tmp_path / "run", "completed")
    before = snapshot(folder)
    ckpt = folder / "checkpoints" / "last.ckpt"
    args = [f"ckpt_path={ckpt}", "logger=csv", f"paths.output_dir={folder}"]
    result = run_main([*args, f"hydra.run.dir={tmp_path / 'eval'}"], entry="eval")
    refused(result, "eval only reads a training folder")
    assert snapshot(folder) == before


def test_a_sweep_into_a_runs_folder_is_refused(finished, tmp_path):
    folder = a_run(finished, tmp_path / "run", "completed")
    before = snapshot(folder)
    for extra in ([], ["hydra.sweep.subdir=."]):
        result = run_main(["-m", *TOY, "seed=1,2", f"hydra.sweep.dir={folder}", *extra])
        refused(result, "is a run's folder or lies inside one")
    assert snapshot(folder) == before


def test_the_report_never_writes_a_runs_folder(finished, tmp_path):
    from reglab.report.__main__ import main

    folder = a_run(finished, tmp_path / "run", "completed")
    before = snapshot(folder)
    assert main([str(folder)]) == 1
    assert snapshot(folder) == before


def test_a_sweep_folder_holding_another_sweeps_jobs_is_refused(finished, tmp_path):
    sweep = tmp_path / "sweep"
    first = run_main(["-m", *TOY, "seed=0,1", f"hydra.sweep.dir={sweep}"])
    assert first.returncode == 0, first.stderr[-3000:]
    before = snapshot(sweep)
    other = run_main(["-m", *TOY, "seed=5,6", f"hydra.sweep.dir={sweep}"])
    refused(other, "holds the jobs of another sweep")
    assert snapshot(sweep) == before
    jobs = {job: snapshot(sweep / job) for job in ("0", "1")}
    again = run_main(["-m", "resume=true", *TOY, "seed=0,1", f"hydra.sweep.dir={sweep}"])
    assert again.returncode == 0, again.stderr[-3000:]
    # the finished jobs were skipped, their files as they were (Hydra's .hydra/ and
    # train.log included, which Hydra rewrites before a job runs)
    assert {job: snapshot(sweep / job) for job in jobs} == jobs


def test_a_failure_is_never_recorded_over_another_runs_record(finished, tmp_path):
    folder = a_run(finished, tmp_path / "run", "interrupted")
    before = snapshot(folder)
    record_failure(folder, ["seed=3"], RuntimeError("another job's crash"))
    assert snapshot(folder) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    record_failure(empty, ["seed=3"], RuntimeError("its own crash"))
    assert json.loads((empty / "metrics.json").read_text())["status"] == "failed"
