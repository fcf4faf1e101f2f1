"""metrics.json (the run's final record) and the summary table printed at the end."""

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from reglab.outputs.atomic import write_text


def _clean(value):
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf
    return value


def write_metrics_json(path: str | Path, record: dict) -> Path:
    """Written atomically: a reader sees the old record or the new one, never half of one."""
    text = json.dumps({k: _clean(v) for k, v in record.items()}, indent=2) + "\n"
    return write_text(path, text)


def print_summary(record: dict, console: Console | None = None) -> None:
    """A short table of the final metrics."""
    table = Table(title=f"reglab: {record.get('status', '?')}", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in record.items():
        if "/" in key or key in ("epochs", "wall_seconds"):
            value = _clean(value)
            text = f"{value:.4f}" if isinstance(value, float) else str(value)
            table.add_row(key, text)
    (console or Console()).print(table)
