"""W&B sweeps drive train.py with Hydra overrides, built the way `wandb agent` builds them."""

from pathlib import Path

import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

from reglab.app.settings import validate_config
from reglab.loggers.wandb import without_locked
from reglab.loggers.wandb_offline import read_offline_run

from .conftest import REPO, run_main

SWEEPS = sorted((REPO / "sweeps").glob("*.yaml"))


def first_point(sweep: dict) -> dict:
    """One parameter assignment of a sweep (the first grid value, or a range's minimum)."""
    point = {}
    for name, spec in sweep["parameters"].items():
        if "value" in spec:
            point[name] = spec["value"]
        elif "values" in spec:
            point[name] = spec["values"][0]
        else:
            point[name] = spec["min"]
    return point


def agent_args(point: dict) -> list[str]:
    """The `${args_no_hyphens}` an agent puts on the command line for this assignment."""
    return create_sweep_command_args({"args": {k: {"value": v} for k, v in point.items()}})[
        "args_no_hyphens"
    ]


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sweep_files_give_overrides_train_py_accepts(path: Path, make_config):
    sweep = yaml.safe_load(path.read_text())
    assert sweep["program"] == "train.py" and "${args_no_hyphens}" in sweep["command"]
    settings = validate_config(make_config(*agent_args(first_point(sweep))))
    assert settings.model.name == "mlp"


def test_agent_command_line_runs_and_logs_the_swept_values(tmp_path):
    args = agent_args({"regularizer": "dropout", "regularizer.dropout": [0.3, 0.1], "seed": 1})
    assert args == ["regularizer=dropout", "regularizer.dropout=[0.3, 0.1]", "seed=1"]
    out = tmp_path / "run"
    # Hydra's main reads these argv entries as `wandb agent` passes them (run_main: no launch)
    result = run_main(
        [
            *args,
            "dataset.val_size=100",
            "dataset.batch_size=64",
            "trainer.max_epochs=1",
            f"hydra.run.dir={out}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [wandb_dir] = sorted(out.glob("wandb/offline-run-*"))
    config = read_offline_run(wandb_dir).config
    assert config["choices"]["regularizer"] == "dropout"
    assert config["regularizer"]["dropout"] == [0.3, 0.1] and config["seed"] == 1


def test_no_locked_by_sweep_warnings(monkeypatch):
    import wandb
    from wandb.sdk.wandb_config import Config

    warnings = []
    monkeypatch.setattr(wandb, "termwarn", lambda message, **kw: warnings.append(message))
    run_config = {"choices": {"regularizer": "dropout"}, "regularizer": {"dropout": [0.3, 0.1]}}
    locked = {"regularizer", "regularizer.dropout"}

    def sweep_config() -> Config:
        config = Config()
        config.update_locked(
            {"regularizer": "dropout", "regularizer.dropout": [0.3, 0.1]}, user="sweep"
        )
        return config

    sweep_config().update(run_config)  # what a plain update would do: the warning
    assert any("locked by 'sweep'" in w for w in warnings)
    warnings.clear()
    config = sweep_config()
    config.update(without_locked(run_config, locked))
    assert warnings == []
    assert config["regularizer"] == "dropout"
    assert config["regularizer_config"] == {"dropout": [0.3, 0.1]}
