"""Hydra sweep overrides -> Optuna search space, with today's Optuna distribution classes.

The syntax is Hydra's own, so a search space reads like any multirun:
  `regularizer.dropout=interval(0,0.8)`                 float, uniform
  `regularizer.weight_decay=tag(log,interval(1e-5,1e-2))` float, log-uniform
  `model.hidden=tag(int,interval(64,512))`               int (add `log` for log-uniform)
  `regularizer=none,dropout` or `choice(...)`            categorical
  `seed=range(0,3)`                                      int with a step (float step: float)
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)


class SearchSpaceError(ValueError):
    pass


@dataclass
class SearchSpace:
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)  # overrides every trial gets as they are

    def overrides(self, params: dict) -> list[str]:
        """The command-line overrides of one trial."""
        return [*self.fixed, *(f"{key}={format_value(v)}" for key, v in params.items())]


def format_value(value) -> str:
    if isinstance(value, float):
        return repr(value)  # full precision, always parsed back as a float
    return str(value)


def distribution(override: Override) -> BaseDistribution:
    key = override.get_key_element()
    sweep = override.value()
    log = "log" in sweep.tags
    if isinstance(sweep, ChoiceSweep):
        return CategoricalDistribution(list(sweep.list))
    if isinstance(sweep, RangeSweep):
        start, stop, step = sweep.start, sweep.stop, sweep.step
        if all(isinstance(v, int) for v in (start, stop, step)):
            return IntDistribution(start, stop - step, step=step)  # range() excludes its stop
        high = start + step * round((stop - start) / step - 1)
        return FloatDistribution(float(start), float(high), step=float(step))
    if isinstance(sweep, IntervalSweep):
        if sweep.start >= sweep.end:
            raise SearchSpaceError(f"{key}: interval({sweep.start}, {sweep.end}) is empty")
        if "int" in sweep.tags:
            return IntDistribution(int(sweep.start), int(sweep.end), log=log)
        return FloatDistribution(sweep.start, sweep.end, log=log)
    raise SearchSpaceError(
        f"{key}: {type(sweep).__name__} cannot be searched; use interval(a,b), "
        "tag(log,interval(a,b)), tag(int,interval(a,b)), range(a,b[,step]) or a,b,c"
    )


def parse_search_space(overrides: Iterable[str]) -> SearchSpace:
    space = SearchSpace()
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.get_key_element()
        if not override.is_sweep_override():
            space.fixed.append(override.input_line)
        elif key in space.distributions:
            raise SearchSpaceError(f"{key} is searched twice")
        else:
            space.distributions[key] = distribution(override)
    if not space.distributions:
        raise SearchSpaceError(
            "nothing to search: give hydra.sweeper.params or sweep overrides such as "
            "regularizer.dropout=interval(0,0.8)"
        )
    return space
