"""What Hydra knows of a job and the settings do not (torch-free)."""

from dataclasses import dataclass, field
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from reglab import contract


@dataclass(frozen=True)
class JobInfo:
    """What Hydra knows of this job and the settings do not: the overrides that define it,
    whether it is one job of a multirun, the chosen group options, the sweep's folder name.
    A run started from Python without Hydra has the defaults."""

    overrides: list[str] = field(default_factory=list)
    multirun: bool = False
    choices: dict[str, str] = field(default_factory=dict)
    sweep_name: str | None = None
    # a replica of a seeds=N run trained as its own single run: that run's folder
    replica_of: str | None = None

    @classmethod
    def from_hydra(cls) -> "JobInfo":
        if not HydraConfig.initialized():
            return cls()
        hydra = HydraConfig.get()
        multirun = hydra.mode == RunMode.MULTIRUN
        choices = {
            group: value
            for group, value in hydra.runtime.choices.items()
            if group in contract.CHOICE_GROUPS and isinstance(value, str)
        }
        return cls(
            # without resume=/ckpt_path=: a resumed sweep's jobs are the same jobs
            overrides=contract.defining_overrides(list(hydra.overrides.task)),
            multirun=multirun,
            choices=choices,
            sweep_name=Path(hydra.sweep.dir).name if multirun else None,
        )
