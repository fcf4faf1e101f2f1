"""SIGTERM (SLURM, Kubernetes, `kill`) stops a run as Ctrl-C does: one line, exit code 1,
an `interrupted` record, the checkpoints so far (reglab.app.signals). The seeds=N loop's
interrupts: test_seeds_lifecycle.py."""

import json

import torch

from .conftest import FAST, REPO, run_cli

SIGNAL_RUN = REPO / "tests" / "signal_run.py"


def _record(folder):
    return json.loads((folder / "metrics.json").read_text())


def test_sigterm_during_start_up_is_one_line_and_a_record(tmp_path):
    # start-up is one code path for single runs and seeds=N (reglab.app.job.handle_run)
    out = tmp_path / "run"
    args = [*FAST, "logger=csv", "seeds=3", f"hydra.run.dir={out}"]
    result = run_cli(["startup", "SIGTERM", str(tmp_path / "sent"), *args], script=SIGNAL_RUN)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "Traceback" not in output
    assert "Interrupted (SIGTERM) during start-up, before the first epoch" in output
    record = _record(out)
    assert record["status"] == "interrupted" and record["epochs"] == 0


def test_sigterm_stops_a_single_run_as_ctrl_c_does(tmp_path):
    out = tmp_path / "run"
    killer = [
        "+callbacks.killer._target_=tests.helpers.KillAt",
        "+callbacks.killer.epoch=1",
        f"+callbacks.killer.marker={tmp_path / 'killed'}",
        "+callbacks.killer.signal=SIGTERM",
    ]
    args = [*FAST, "trainer.max_epochs=3", "logger=csv", f"hydra.run.dir={out}"]
    result = run_cli([*args, *killer])
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]  # not 0: a scheduler must see it failed
    assert "Traceback" not in output and "Interrupted (SIGTERM)" in output
    record = _record(out)
    assert record["status"] == "interrupted" and record["epochs"] == 1
    assert (out / "checkpoints" / "on_exception.ckpt").is_file()
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0
