"""Conveniences around a run (issue 13): debug modes, the config tree switch, quiet libraries,
enforce_tags, configs/local/, .env loading. The loggers' side is in test_loggers.py."""

import io
import json
import os
import subprocess
import sys
import warnings

import pytest
from omegaconf import OmegaConf

from reglab.app.job import run
from reglab.app.settings import validate_config
from reglab.config.compose import compose_config
from reglab.extras.env_file import load_env_file
from reglab.extras.tags import EnforceTags, ask_tags, tags_override
from reglab.extras.warnings import silence_known_warnings

from .conftest import FAST, REPO


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# ---- debug modes ---------------------------------------------------------------------------


def test_debug_default_one_epoch_no_wandb_no_checkpoints_anomaly_on(make_config, tmp_path):
    cfg = make_config("debug=default", "logger=[wandb,tensorboard]", "trainer.max_epochs=3")
    # debug runs go to logs/debug/, whatever the command asked for the loggers
    assert "/debug/runs/" in cfg.hydra.run.dir and "/debug/multiruns/" in cfg.hydra.sweep.dir
    assert cfg.trainer.detect_anomaly is True and cfg.logger.wandb is None
    record = run(cfg)
    out = tmp_path / "run"
    # FAST's max_epochs=3 came after debug's 1 on the command line; the mode's other settings hold
    assert record["status"] == "completed" and record["epochs"] == 3
    assert not list(out.glob("wandb*")), "a debug run must never reach W&B"
    assert not (out / "checkpoints").exists() or not list((out / "checkpoints").iterdir())
    assert record["tested_checkpoint"] == "last weights"
    assert list((out / "tensorboard").glob("events.*"))  # the loggers not W&B still work


@pytest.mark.parametrize("mode", ["fdr", "limit", "overfit", "profiler", "fast"])
def test_every_debug_mode_builds_on_default(make_config, mode):
    cfg = make_config(f"debug={mode}", fast=False)
    assert cfg.task_name == "debug" and cfg.logger.wandb is None
    assert cfg.callbacks.model_checkpoint is None and cfg.trainer.detect_anomaly is True
    validate_config(cfg)
    expected = {
        "fdr": {"fast_dev_run": True},
        "limit": {"limit_train_batches": 5, "limit_val_batches": 2, "max_epochs": 1},
        "fast": {"limit_train_batches": 5, "max_epochs": 1},
        "overfit": {"overfit_batches": 4, "max_epochs": 200},
        "profiler": {"max_epochs": 1},
    }[mode]
    assert {k: cfg.trainer[k] for k in expected} == expected


def test_debug_fdr_runs_one_batch_and_profiler_saves_its_report(make_config, tmp_path):
    record = run(make_config("debug=fdr", "extras.print_config=false"))
    out = tmp_path / "run"
    assert record["status"] == "completed" and record["epochs"] == 1
    assert not (out / "config_tree.log").exists()  # extras.print_config=false

    record = run(compose_config([*FAST, "debug=profiler", "logger=csv"], tmp_path / "prof"))
    report = (tmp_path / "prof" / "fit-profiler.txt").read_text()
    assert record["status"] == "completed" and "run_training_epoch" in report
    assert (tmp_path / "prof" / "config_tree.log").is_file()


# ---- extras --------------------------------------------------------------------------------


def test_ignore_warnings_silences_the_known_ones_only():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_known_warnings()
        warnings.warn("The 'train_dataloader' does not have many workers", stacklevel=1)
        warnings.warn("something reglab does not know about", stacklevel=1)
    assert [str(w.message) for w in caught] == ["something reglab does not know about"]


def test_extras_keys_are_validated(make_config):
    from reglab.config import ConfigError

    with pytest.raises(ConfigError, match=r"extras.print_config"):
        validate_config(make_config("extras.print_config=maybe"))
    with pytest.raises(ConfigError, match=r"extras.colour: unknown key"):
        validate_config(make_config("+extras.colour=true"))


def test_enforce_tags_asks_on_a_terminal_before_a_run_and_a_multirun(make_config):
    answer = FakeTerminal("\n  baseline, lr sweep ,\n")  # an empty answer asks again
    out = io.StringIO()
    assert ask_tags(answer, out) == ["baseline", "lr sweep"]
    assert out.getvalue().count("Tags for this run") == 2

    cfg = make_config("extras.enforce_tags=true")
    callback = EnforceTags()
    original = sys.stdin
    try:
        sys.stdin = FakeTerminal("baseline, it's v2\n")
        callback.on_run_start(cfg)
        assert list(cfg.tags) == ["baseline", "it's v2"]
        multirun_cfg = make_config("extras.enforce_tags=true")
        sys.stdin = FakeTerminal("baseline, it's v2\n")
        callback.on_multirun_start(multirun_cfg)
    finally:
        sys.stdin = original
    # the sweeper gets the tags as one more override of every job; Hydra parses it back
    override = multirun_cfg.hydra.overrides.task[-1]
    assert override == tags_override(["baseline", "it's v2"])
    assert list(make_config(override).tags) == ["baseline", "it's v2"]


def test_enforce_tags_goes_on_without_a_terminal_or_when_tags_are_given(make_config, caplog):
    cfg = make_config("extras.enforce_tags=true")
    original = sys.stdin
    try:
        sys.stdin = io.StringIO("never read\n")  # not a terminal (CI, SLURM, a pipe)
        EnforceTags().on_multirun_start(cfg)
        given = make_config("extras.enforce_tags=true", "tags=[a]")
        sys.stdin = FakeTerminal("")  # would end the input: must not even be asked
        EnforceTags().on_run_start(given)
    finally:
        sys.stdin = original
    assert list(cfg.tags) == [] and not any(o.startswith("tags=") for o in cfg.hydra.overrides.task)
    assert "stdin is not a terminal" in caplog.text
    assert list(given.tags) == ["a"]


# ---- per-machine settings: configs/local/, .env -------------------------------------------


def test_local_config_overrides_defaults_and_is_git_ignored(tmp_path):
    local = tmp_path / "search" / "local"
    local.mkdir(parents=True)
    (local / "default.yaml").write_text(
        "# @package _global_\nseed: 7\ntrainer:\n  max_epochs: 3\ntags: [my-machine]\n"
    )
    base = compose_config([], tmp_path / "run")
    cfg = compose_config([f"hydra.searchpath=[file://{tmp_path / 'search'}]"], tmp_path / "run")
    assert (base.seed, base.trainer.max_epochs) == (42, 10)
    assert (cfg.seed, cfg.trainer.max_epochs, list(cfg.tags)) == (7, 3, ["my-machine"])
    # the command line still wins over the local file, and debug modes over both
    cfg = compose_config(
        [f"hydra.searchpath=[file://{tmp_path / 'search'}]", "seed=1", "debug=default"],
        tmp_path / "run",
    )
    assert (cfg.seed, cfg.trainer.max_epochs) == (1, 1)
    ignored = subprocess.run(
        ["git", "check-ignore", "src/reglab/configs/local/default.yaml", ".env"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["src/reglab/configs/local/default.yaml", ".env"], (
        ignored.stderr
    )
    assert (REPO / ".env.example").is_file()


def test_env_file_sets_what_the_environment_does_not(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("# a comment\nREGLAB_TEST_A=from-file\nREGLAB_TEST_B='quoted value'\n")
    monkeypatch.setenv("REGLAB_TEST_B", "from-shell")
    monkeypatch.delenv("REGLAB_TEST_A", raising=False)
    assert load_env_file(env) == {"REGLAB_TEST_A": "from-file"}
    assert os.environ["REGLAB_TEST_A"] == "from-file"
    assert os.environ["REGLAB_TEST_B"] == "from-shell"  # the shell wins
    monkeypatch.delenv("REGLAB_TEST_A")
    monkeypatch.setenv("REGLAB_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(SystemExit, match=r"missing\.env: no such file"):
        load_env_file()


def test_cli_reads_env_file_prints_the_tree_and_skips_tag_prompt_without_terminal(tmp_path):
    """One launch, as a user types it: `.env` moves the log folder, a debug run lands in
    logs/debug/, the config tree is printed, enforce_tags does not block a run without a
    terminal."""
    env_file = tmp_path / "my.env"
    env_file.write_text(f"REGLAB_LOG_DIR={tmp_path / 'from-env'}\n")
    env = {k: v for k, v in os.environ.items() if k != "REGLAB_LOG_DIR"}
    env["REGLAB_ENV_FILE"] = str(env_file)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "train.py"),
            "debug=fdr",
            "extras.enforce_tags=true",
            "dataset.val_size=100",
        ],
        cwd=REPO,
        env={k: v for k, v in env.items() if k != "WANDB_SERVICE"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = (tmp_path / "from-env" / "debug" / "runs").iterdir()
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "completed" and record["tags"] == []
    assert record["provenance"]["command"].endswith(
        "debug=fdr extras.enforce_tags=true dataset.val_size=100"
    )
    assert "CONFIG" in result.stdout and "regularizer" in result.stdout
    assert "stdin is not a terminal" in result.stdout + result.stderr
    assert OmegaConf.load(run_dir / ".hydra" / "config.yaml").task_name == "debug"
