"""Experiment-specific parts of a sweep report, chosen by the sweep's `task_name`.

Each experiment that answers a question of the notes (experiment=dropout_table, norm_layers,
early_stopping, dropout_rates, dropout_variance, lenet_regularizers) adds its own tables and
figures to the generic report; `build_report` calls `topic_outputs`. What they share is in
reglab.report.topic_tools (so no topic module imports this registry back).
"""

from collections.abc import Callable
from pathlib import Path

from reglab.report.jobs import Job
from reglab.report.topic_tools import task_name


def _topics() -> dict[str, Callable[[list[Job], Path], list[Path]]]:
    from reglab.report import (
        dropout_rates,
        dropout_table,
        dropout_variance,
        early_stopping,
        lenet_regularizers,
        norm_layers,
    )

    return {
        "dropout_table": dropout_table.report,
        "norm_layers": norm_layers.report,
        "early_stopping": early_stopping.report,
        "dropout_rates": dropout_rates.report,
        "dropout_variance": dropout_variance.report,
        "lenet_regularizers": lenet_regularizers.report,
    }


def topic_outputs(jobs: list[Job], sweep_dir: Path) -> list[Path]:
    """The experiment's own tables (.md) and figures (.png), or [] for other sweeps."""
    topic = _topics().get(task_name(jobs) or "")
    return topic(jobs, sweep_dir) if topic else []
