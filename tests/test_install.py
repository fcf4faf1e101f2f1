"""reglab installed (not editable) runs from a folder outside the checkout: the configs ship
inside the package, the console scripts work, logs go to the current folder."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_an_installed_reglab_trains_from_a_folder_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy: pip builds in the source tree (build/, egg-info)
    shutil.copytree(
        REPO / "src",
        source / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "local"),
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*install, "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (site / "reglab" / "configs" / "train.yaml").is_file()  # package data

    project = tmp_path / "my_project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGLAB_", "PYTHON"))}
    env |= {"PYTHONPATH": str(site), "WANDB_MODE": "offline"}
    where = subprocess.run(
        [sys.executable, "-c", "import reglab; print(reglab.__file__)"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    args = ["dataset=toy1d", "model.hidden=[8]", "trainer.max_epochs=2", "logger=csv"]
    train = subprocess.run(
        [str(site / "bin" / "reglab-train"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    (metrics,) = (project / "logs" / "train" / "runs").glob("*/metrics.json")
    assert json.loads(metrics.read_text())["status"] == "completed"
