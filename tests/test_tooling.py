"""Tooling that works offline and agrees with CI (issue 13): local pre-commit hooks on the
project's own ruff, the Makefile's targets, the GitHub Actions workflow."""

import importlib.util
import os
import shutil
import subprocess

import pytest
import yaml

from .conftest import REPO


def test_pre_commit_hooks_are_local_and_install_and_run_offline(tmp_path):
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    hooks = {hook["id"]: hook for hook in config["repos"][0]["hooks"]}
    assert hooks["ruff-format"]["entry"].startswith(".venv/bin/ruff format")
    assert hooks["ruff-check"]["entry"].startswith(".venv/bin/ruff check")
    # CI's lint (.ci/run) uses the same executable
    assert ".venv/bin/ruff format --check" in (REPO / ".ci" / "run").read_text()
    pre_commit = REPO / ".venv" / "bin" / "pre-commit"
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
    for args in (
        ["validate-config", ".pre-commit-config.yaml"],
        ["install-hooks"],  # nothing to download: must work without a network
        ["run", "--files", "train.py", "src/reglab/configs/train.yaml", "pyproject.toml"],
    ):
        result = subprocess.run(
            [str(pre_commit), *args], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert result.stdout.count("Passed") == 3


def test_check_files_finds_conflicts_bad_yaml_and_large_files(tmp_path):
    spec = importlib.util.spec_from_file_location("check_files", REPO / "scripts/check_files.py")
    check_files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_files)
    good = tmp_path / "good.yaml"
    good.write_text("a: [1, 2]\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    conflict = tmp_path / "x.py"
    conflict.write_text("a = 1\n<<<<<<< HEAD\nb = 2\n=======\nb = 3\n>>>>>>> other\n")
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    assert check_files.problems(good) == []
    assert "does not parse" in check_files.problems(bad)[0]
    assert len(check_files.problems(conflict)) == 3
    assert "over 1048576" in check_files.problems(big)[0]
    assert check_files.main([str(good)]) == 0 and check_files.main([str(good), str(bad)]) == 1


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("setup", "bash scripts/setup.sh"),
        ("train", ".venv/bin/python train.py regularizer=dropout"),
        ("test", ".venv/bin/python -m pytest"),
        ("test-slow", ".venv/bin/python -m pytest -m slow"),
        ("lint", ".venv/bin/ruff check src tests scripts train.py"),
        ("ci", "bash .ci/run"),
        ("bench", ".venv/bin/python scripts/bench_epoch.py"),
    ],
)
def test_makefile_targets(target, command):
    # -n prints the commands without running them
    result = subprocess.run(
        ["make", "-n", target, "ARGS=regularizer=dropout" if target == "train" else "ARGS="],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert command in result.stdout


def test_github_workflow_runs_the_ci_script():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(step.get("run") == "bash .ci/run" for step in steps)
    assert any(step.get("uses", "").startswith("actions/checkout") for step in steps)
