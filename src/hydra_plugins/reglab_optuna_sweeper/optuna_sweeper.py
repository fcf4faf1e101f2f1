"""A Hydra sweeper on today's Optuna (ask/tell API).

Why not hydra-optuna-sweeper: its last release (1.3.0) pins optuna<3 and is built on
distribution classes Optuna has since removed, so it cannot be installed beside a current
Optuna. This one keeps its configuration (direction, n_trials, n_jobs, sampler, storage,
params in Hydra's sweep syntax) and hands each batch of trials to whatever launcher is
configured (basic, joblib, submitit, ...).
"""

import logging
import math
from collections.abc import Sequence
from pathlib import Path

from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)
# Optuna is imported when a sweep starts, not here: Hydra imports every plugin module on each
# start-up (`--help` too), and Optuna takes most of a second to import.

SAMPLERS = ("tpe", "random", "grid")
DIRECTIONS = ("maximize", "minimize")


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        direction: str,
        n_trials: int,
        n_jobs: int,
        sampler: str,
        seed: int | None,
        storage: str | None,
        study_name: str | None,
        params: dict | None,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"hydra.sweeper.direction={direction!r}: allowed {DIRECTIONS}")
        if sampler not in SAMPLERS:
            raise ValueError(f"hydra.sweeper.sampler={sampler!r}: allowed {SAMPLERS}")
        if n_trials < 1 or n_jobs < 1:
            raise ValueError("hydra.sweeper.n_trials and hydra.sweeper.n_jobs must be >= 1")
        self.direction, self.n_trials, self.n_jobs = direction, n_trials, n_jobs
        self.sampler_name, self.seed = sampler, seed
        self.storage, self.study_name = storage, study_name
        from reglab.search.space import format_value

        self.params = {key: format_value(v) for key, v in (params or {}).items()}

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def _make_sampler(self, space, make_sampler, trials_so_far: int = 0):
        # A resumed study continues: a sampler seeded as the first run's would draw that run's
        # trials again (trial 0's parameters first), so the seed moves on with the study.
        seed = None if self.seed is None else self.seed + trials_so_far
        sampler, grid_size = make_sampler(self.sampler_name, space, seed)
        if grid_size is not None:  # the grid sampler stops when the grid is used up
            self.n_trials = min(self.n_trials, grid_size)
        return sampler

    def sweep(self, arguments: list[str]) -> list:
        import optuna
        from optuna.trial import TrialState

        from reglab.search.results import write_results
        from reglab.search.sampler import make_sampler
        from reglab.search.space import parse_search_space

        space = parse_search_space([f"{k}={v}" for k, v in self.params.items()] + arguments)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(
            study_name=self.study_name or sweep_dir.name,
            storage=self.storage,
            sampler=self._make_sampler(space, make_sampler),
            direction=self.direction,
            load_if_exists=True,
        )
        if study.trials:
            study.sampler = self._make_sampler(space, make_sampler, len(study.trials))
        done = sum(t.state in (TrialState.COMPLETE, TrialState.FAIL) for t in study.trials)
        if done:
            log.info("Study %s already has %d trials: going on from there", study.study_name, done)
        returns = []
        while done < self.n_trials:
            batch = [
                study.ask(space.distributions)
                for _ in range(min(self.n_jobs, self.n_trials - done))
            ]
            overrides = [tuple(space.overrides(trial.params)) for trial in batch]
            results = self.launcher.launch(overrides, initial_job_idx=batch[0].number)
            for trial, result in zip(batch, results, strict=True):
                value = _objective(result)
                if value is None:
                    study.tell(trial, state=TrialState.FAIL)
                    log.warning("Trial %d gave no value: marked failed", trial.number)
                else:
                    study.tell(trial, value)
            returns.append(results)
            done += len(batch)
        write_results(study, space, sweep_dir)
        self._write_figures(study, sweep_dir)
        return returns

    def _write_figures(self, study, sweep_dir: Path) -> None:
        from reglab.search.figures import write_optuna_figures

        try:
            metric = OmegaConf.select(self.config, "optimized_metric", default=None)
            write_optuna_figures(study, sweep_dir, metric)
        except Exception:  # a figure must never turn a finished search into a failure
            log.exception("reglab: could not draw Optuna's figures in %s", sweep_dir)


def _objective(result) -> float | None:
    """The job's return value as a number, or None for a failed job (Hydra raises on access)."""
    try:
        value = result.return_value
    except Exception:
        return None
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return None if math.isnan(value) else value


__all__: Sequence[str] = ["OptunaSweeper"]
