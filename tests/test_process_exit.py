"""A command's process ends without Python's teardown once the command has succeeded
(reglab.app.process_exit); a failed one exits as Python does."""

import os
import subprocess
import sys

from .conftest import REPO, run_cli

# `work` is the command. An object with __del__ says whether Python tore the modules down; an
# exit handler registered by the command (as W&B registers one) must still run; the buffered
# stdout of a pipe must reach the parent.
PROGRAM = """
import atexit, sys
from reglab.app.process_exit import end_without_teardown

class Teardown:
    def __del__(self):
        sys.stderr.write("teardown ran\\n")

held = Teardown()

def work():
    atexit.register(lambda: print("a later exit handler ran"))
    print("worked")
    {body}

end_without_teardown(work)
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
