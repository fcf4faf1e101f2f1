"""The ways in: `python -m reglab`, the commands reglab prints back as the user typed them,
launchers whose extra is missing, experiments that declare a sweep, the README's Python use."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reglab.report.build import build_report

from .conftest import REPO, run_main

CONFIGS = REPO / "src" / "reglab" / "configs"
TOY = ["dataset=toy1d", "model.hidden=[8]", "trainer.max_epochs=2", "logger=csv"]


def python(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """`python <args>` with this checkout's reglab, as run_cli starts train.py."""
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_python_m_reglab_without_a_known_command_prints_its_usage(tmp_path):
    for args in ([], ["bogus"]):
        result = python(["-m", "reglab", *args], tmp_path)
        assert result.returncode == 2, result.stderr
        assert "usage: python -m reglab {train,eval,report}" in result.stderr
    assert "unknown command 'bogus'" in result.stderr


def test_python_m_reglab_trains_evaluates_and_reports(tmp_path):
    runs = tmp_path / "logs"
    train = python(
        ["-m", "reglab", "train", *TOY, f"hydra.run.dir={runs / 'run'}"],
        tmp_path,
    )
    assert train.returncode == 0, train.stderr[-3000:]
    assert json.loads((runs / "run" / "metrics.json").read_text())["status"] == "completed"
    # a missing key: the hint names the command as typed
    missing = python(["-m", "reglab", "eval"], tmp_path)
    assert missing.returncode == 1
    assert "ckpt_path is required: python -m reglab eval ckpt_path=" in missing.stdout
    evaluation = [f"hydra.run.dir={runs / 'eval'}", "extras.print_config=false"]
    evaluated = python(
        [
            "-m",
            "reglab",
            "eval",
            f"ckpt_path={runs / 'run' / 'checkpoints' / 'last.ckpt'}",
            *evaluation,
        ],
        tmp_path,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "test/loss" in json.loads((runs / "eval" / "metrics.json").read_text())
    report = python(["-m", "reglab", "report", str(tmp_path / "empty")], tmp_path)
    assert report.returncode == 1 and "no jobs found" in report.stdout


@pytest.mark.parametrize(
    ("argv0", "train", "evaluate"),
    [
        ("/home/me/.venv/bin/reglab-train", "reglab-train", "reglab-eval"),
        ("train.py", "python train.py", "python eval.py"),
        ("/src/reglab/__main__.py", "python -m reglab train", "python -m reglab eval"),
    ],
)
def test_printed_commands_start_as_the_user_started_reglab(monkeypatch, argv0, train, evaluate):
    from reglab.extras.command import program

    monkeypatch.setattr(sys, "argv", [argv0, "x=1"])
    assert (program("train"), program("eval")) == (train, evaluate)


def test_a_sweep_report_shows_the_command_as_typed(tmp_path):
    """reglab-report rebuilds a report later, in another process: the jobs' recorded command
    says how the sweep was started."""
    for i, (typed, expected) in enumerate(
        [
            ("/home/me/.venv/bin/reglab-train -m seed=0,1", "reglab-train"),
            ("/usr/bin/python3 -u train.py -m seed=0,1", "python train.py"),
            ("python -m reglab train -m seed=0,1", "python -m reglab train"),
        ]
    ):
        sweep = tmp_path / f"sweep{i}"
        write_sweep(sweep, {"0": 0.5, "1": 0.6}, command=typed)
        build_report(sweep)
        assert f"{expected} -m seed=0,1\n" in (sweep / "report.md").read_text()


def write_sweep(sweep: Path, val_acc: dict[str, float], command: str, optuna: bool = False):
    """A finished sweep folder as Hydra and reglab leave it (jobs named by their trial)."""
    hydra = {"overrides": {"task": ["seed=0,1"]}}
    if optuna:
        hydra["sweeper"] = {"direction": "maximize", "n_trials": len(val_acc)}
    config = {"optimized_metric": "val/acc_best" if optuna else None, "hydra": hydra}
    sweep.mkdir(parents=True)
    (sweep / "multirun.yaml").write_text(yaml.safe_dump(config))
    for i, (name, acc) in enumerate(val_acc.items()):
        job = sweep / str(i)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"trial={name}"]))
        record = {
            "status": "completed",
            "overrides": [f"trial={name}"],
            "provenance": {"command": command},
            "val/acc_best": acc,
            "test/acc": 1 - acc,  # the test ranking is the reverse of the optimised one
        }
        (job / "metrics.json").write_text(json.dumps(record))


def test_an_optuna_summary_ranks_by_the_optimised_metric_not_the_test_set(tmp_path):
    sweep = tmp_path / "search"
    write_sweep(sweep, {"a": 0.70, "b": 0.90, "c": 0.80}, "python train.py", optuna=True)
    build_report(sweep)
    summary = (sweep / "summary.md").read_text()
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "seeds" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["b", "c", "a"]
    assert "Ranked by val/acc_best, highest first" in summary
    assert "Sorted by val/acc_best." in (sweep / "report.md").read_text()
    with open(sweep / "summary.csv") as f:
        assert [line.split(",")[0] for line in f.read().splitlines()[1:]] == ["b", "c", "a"]
    # a grid optimises nothing: its order is unchanged (test accuracy)
    grid = tmp_path / "grid"
    write_sweep(grid, {"a": 0.70, "b": 0.90}, "python train.py")
    build_report(grid)
    rows = [r for r in (grid / "summary.md").read_text().splitlines() if r.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["a", "b"]


def test_a_cluster_launcher_without_its_extra_is_one_line(tmp_path):
    """hydra/launcher=slurm or ray without `reglab[cluster]` installed: the import fails (as
    it would without the package) and the command says what to install."""
    for option, module in (
        ("slurm", "hydra_plugins.hydra_submitit_launcher"),
        ("ray", "hydra_plugins.hydra_ray_launcher"),
    ):
        code = (
            f"import sys; sys.modules[{module!r}] = None\n"
            f"sys.argv = ['train.py', '-m', 'hydra/launcher={option}', 'seed=0,1']\n"
            "from reglab.app.cli import train; train()"
        )
        result = python(["-c", code], tmp_path)
        assert result.returncode == 1
        lines = (result.stdout + result.stderr).strip().splitlines()
        assert lines == [
            f"hydra/launcher={option} needs the cluster extra, which is not installed: "
            "pip install 'reglab[cluster]'"
        ]


def declared_sweeps() -> list[str]:
    """Every experiment option that declares a sweep in hydra.sweeper.params."""
    names = []
    for path in sorted((CONFIGS / "experiment").glob("*.yaml")):
        config = yaml.safe_load(path.read_text()) or {}
        if ((config.get("hydra") or {}).get("sweeper") or {}).get("params"):
            names.append(path.stem)
    return names


@pytest.mark.parametrize("experiment", declared_sweeps())
def test_an_experiment_that_declares_a_sweep_needs_m(experiment, tmp_path):
    result = run_main([f"experiment={experiment}", "seeds=10", f"hydra.run.dir={tmp_path / 'r'}"])
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert f"experiment={experiment} declares a sweep (" in out
    assert f"add -m to run it (python train.py -m experiment={experiment} seeds=10" in out
    assert not (tmp_path / "r").exists()  # nothing trained, no folder left


def test_a_declared_sweep_with_its_key_given_runs_that_one_case(tmp_path):
    without = run_main(["experiment=toy1d_weight_decay", f"hydra.run.dir={tmp_path / 'x'}"])
    assert without.returncode == 1 and "declares a sweep" in without.stdout + without.stderr
    result = run_main(
        [
            "experiment=toy1d_weight_decay",
            "regularizer.weight_decay=0.01",
            *("trainer.max_epochs=2", "logger=csv", f"hydra.run.dir={tmp_path / 'r'}"),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "regularizer.weight_decay=0.01" in record["overrides"]


def readme_python_example() -> str:
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (block,) = [b for b in blocks if "from reglab.app.job import run" in b]
    return block


def test_the_readme_python_example_writes_only_into_the_logs_folder(tmp_path, monkeypatch):
    here = tmp_path / "checkout"  # where the user runs it from
    here.mkdir()
    monkeypatch.chdir(here)
    small = '"trainer.max_epochs=1", "dataset.val_size=100", "logger=csv"'
    code = readme_python_example().replace('"trainer.max_epochs=3"', small)
    assert small in code
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["record"]["status"] == "completed"
    assert list(here.iterdir()) == []
    (metrics,) = (tmp_path / "logs").glob("train/runs/*/metrics.json")  # REGLAB_LOG_DIR
    assert json.loads(metrics.read_text())["status"] == "completed"
