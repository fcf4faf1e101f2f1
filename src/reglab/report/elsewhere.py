"""Where a sweep's report is built: in the process that ran the sweep (the default), or by a
builder a launcher offers (hydra/launcher=stacked with worker processes: an idle worker, which
has torch and matplotlib imported, where the launcher's process would import them first).
Torch-free: the launcher's process imports this."""

from collections.abc import Callable
from pathlib import Path

# sweep folder -> the files written, or None: the report is built here after all
Builder = Callable[[Path], list[Path] | None]
_builder: Builder | None = None


def report_elsewhere(builder: Builder | None) -> None:
    """From now on the sweep report is built by `builder` (None: here again)."""
    global _builder
    _builder = builder


def build_elsewhere(sweep_dir: Path) -> list[Path] | None:
    """The report, built by the builder offered (the files written); None: none is offered,
    or it could not build it (the caller builds it). Ctrl-C / SIGTERM: KeyboardInterrupt."""
    return None if _builder is None else _builder(sweep_dir)
