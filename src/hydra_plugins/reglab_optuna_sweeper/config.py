"""`hydra/sweeper=reglab_optuna`: Optuna search over Hydra overrides (see reglab.search)."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.reglab_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    direction: str = "maximize"  # of the value train.py returns (`optimized_metric`)
    n_trials: int = 20  # in all, counting trials a stored study already ran
    n_jobs: int = 1  # trials asked for at once and handed to the launcher together
    sampler: str = "tpe"  # tpe | random | grid (grid: categorical and range() only)
    seed: int | None = 0  # of the sampler: the same search gives the same trials
    # e.g. sqlite:///logs/optuna.db: the study survives the process, and re-running the same
    # command goes on where it stopped instead of starting over.
    storage: str | None = None
    study_name: str | None = None
    # key: Hydra sweep syntax, e.g. regularizer.dropout: interval(0,0.8)
    params: dict[str, Any] = field(default_factory=dict)


ConfigStore.instance().store(
    group="hydra/sweeper", name="reglab_optuna", node=OptunaSweeperConf, provider="reglab"
)
