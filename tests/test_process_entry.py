"""A command's process (reglab.app.process_entry): the garbage collector waits for the end of
start-up; the process ends without Python's teardown once the command has succeeded, and a
failed one exits as Python does."""

import gc
import json
import os
import subprocess
import sys
import textwrap

from reglab.app.process_entry import start_up_done

from .conftest import REPO, run_cli

# `work` is the command. An object with __del__ says whether Python tore the modules down; an
# exit handler registered by the command (as W&B registers one) must still run; the buffered
# stdout of a pipe must reach the parent.
PROGRAM = """
import atexit, sys
from reglab.app.process_entry import run_command

class Teardown:
    def __del__(self):
        sys.stderr.write("teardown ran\\n")

held = Teardown()

def work():
    atexit.register(lambda: print("a later exit handler ran"))
    print("worked")
    {body}

run_command(work)
"""


def run(body: str, prelude: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if k != "REGLAB_PYTHON_TEARDOWN"}
    env = inherited | {"PYTHONPATH": str(REPO / "src")} | (env or {})
    code = prelude + PROGRAM.format(body=body)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


def test_a_command_that_succeeds_ends_without_teardown_after_the_later_exit_handlers():
    done = run("pass")
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["worked", "a later exit handler ran"]
    assert "teardown ran" not in done.stderr


def test_a_command_that_fails_exits_with_its_status_and_python_s_teardown():
    failed = run("raise RuntimeError('boom')")
    assert failed.returncode == 1
    assert "RuntimeError: boom" in failed.stderr
    assert "teardown ran" in failed.stderr
    assert "a later exit handler ran" in failed.stdout
    stopped = run("sys.exit(3)")
    assert stopped.returncode == 3
    assert "teardown ran" in stopped.stderr


def test_under_coverage_the_process_ends_as_python_ends_it():
    # coverage writes its data from an exit handler registered before the command's
    fake = "import sys, types; sys.modules['coverage'] = types.ModuleType('coverage')\n"
    done = run("pass", prelude=fake)
    assert done.returncode == 0
    assert "teardown ran" in done.stderr


def test_reglab_python_teardown_keeps_the_exit_handlers_of_a_wrapper():
    # a wrapper (a profiler running train.py through runpy) registered its handler first
    wrapper = "import atexit; atexit.register(lambda: print('the wrapper reported'))\n"
    skipped = run("pass", prelude=wrapper)
    assert "the wrapper reported" not in skipped.stdout
    kept = run("pass", prelude=wrapper, env={"REGLAB_PYTHON_TEARDOWN": "1"})
    assert kept.returncode == 0
    assert kept.stdout.splitlines()[-1] == "the wrapper reported"
    assert "teardown ran" in kept.stderr


def test_train_py_that_succeeds_leaves_its_log_and_results_whole(tmp_path):
    run_dir = tmp_path / "run"
    done = run_cli(
        [
            "dataset=toy1d",
            "model=mlp",
            "model.hidden=[8]",
            "trainer.max_epochs=3",
            "logger=csv",
            "extras.print_config=false",
            f"hydra.run.dir={run_dir}",
        ]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # the run's last log record (after the results are written) is in the file and the output
    assert done.stdout.strip().splitlines()[-1].endswith(f"Results in {run_dir}")
    assert (run_dir / "train.log").read_text().strip().endswith(f"Results in {run_dir}")
    assert (run_dir / "metrics.json").is_file()
    assert len((run_dir / "metrics.csv").read_text().splitlines()) == 1 + 3


def test_the_collector_waits_for_start_up_then_frees_its_garbage_and_freezes_the_rest():
    body = """
    import gc, weakref
    class Node: pass
    cycle = Node(); cycle.me = cycle  # start-up's garbage: only the collector frees it
    gone = weakref.ref(cycle); del cycle
    kept = [Node() for _ in range(1000)]
    print("start-up", gc.isenabled(), gone() is not None)
    from reglab.app.process_entry import start_up_done
    start_up_done()
    print("training", gc.isenabled(), gone() is None, gc.get_freeze_count() >= 1000)
    start_up_done()  # once: no second collection
    """
    done = run(textwrap.dedent(body).replace("\n", "\n    "))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:3] == ["start-up False True", "training True True True"]


def test_start_up_done_outside_a_command_s_process_leaves_the_collector_alone():
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    start_up_done()
    assert (gc.isenabled(), gc.get_freeze_count()) == (enabled, frozen)


def test_a_run_whose_output_reader_exits_trains_to_the_end(tmp_path):
    """`python train.py ... | head -3`: the reader is gone after 3 lines. The run goes on,
    its output dropped: completed, exit 0, its results whole (was: rich's console turned the
    broken pipe into SystemExit, recorded `interrupted` after the last epoch, exit 1, and each
    log line printed a "--- Logging error ---" traceback)."""
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "train.py"),
            "dataset=toy1d",
            "model.hidden=[8]",
            "trainer.max_epochs=40",
            "logger=csv",
            f"hydra.run.dir={run_dir}",
        ],
        cwd=REPO,
        env=env | {"PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    first = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()  # as `head -3` exits
    assert process.wait(timeout=120) == 0, first
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed" and record["epochs"] == 40
    assert "test/loss" in record
    assert "Logging error" not in (run_dir / "train.log").read_text()
