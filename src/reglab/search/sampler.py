"""Optuna samplers for the sweeper (hydra.sweeper.sampler: tpe | random | grid)."""

import math

import optuna


def make_sampler(name: str, space, seed: int | None):
    """The sampler of `hydra.sweeper.sampler`, and the number of grid points (grid only)."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed), None
    if name == "grid":
        grid = {}
        for key, dist in space.distributions.items():
            if not isinstance(dist, optuna.distributions.CategoricalDistribution):
                if getattr(dist, "step", None) is None:
                    raise ValueError(f"sampler=grid needs choices or range() for {key}")
                n = round((dist.high - dist.low) / dist.step) + 1
                grid[key] = [dist.low + i * dist.step for i in range(n)]
            else:
                grid[key] = list(dist.choices)
        return _AskTellGrid(grid, seed=seed), math.prod(len(v) for v in grid.values())
    return optuna.samplers.TPESampler(seed=seed), None


class _AskTellGrid(optuna.samplers.GridSampler):
    """GridSampler calls study.stop() when the grid is used up, which Optuna only allows
    inside study.optimize(); with ask/tell the sweeper stops itself (n_trials <= grid size)."""

    def after_trial(self, study, trial, state, values) -> None:
        pass
