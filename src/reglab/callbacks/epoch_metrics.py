"""Writes metrics.csv (one row per epoch) as training goes, and curves.png at the end."""

import csv
import time
from pathlib import Path

import lightning as L

from reglab.outputs.plots import plot_curves


class EpochMetricsWriter(L.Callback):
    """After each epoch (validation included), appends the epoch's train/ and val/ metrics.

    The file is rewritten whole each epoch (it is small), so it is complete after a crash.
    """

    def __init__(self, output_dir: str | Path, filename: str = "metrics.csv"):
        self.output_dir = Path(output_dir)
        self.path = self.output_dir / filename
        self.rows: list[dict] = []
        self._start = 0.0
        self._epoch_start = 0.0

    def on_fit_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        row = {"epoch": trainer.current_epoch + 1, "step": trainer.global_step}
        for key, value in sorted(trainer.callback_metrics.items()):
            if key.startswith(("train/", "val/")):
                row[key] = float(value)
        now = time.perf_counter()
        row["epoch_s"] = round(now - self._epoch_start, 4)  # training + validation
        row["elapsed_s"] = round(now - self._start, 3)
        self.rows.append(row)
        if trainer.is_global_zero:
            self.write()

    def write(self) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        with open(self.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def _plot(self, trainer) -> None:
        if trainer.is_global_zero and self.rows:
            plot_curves(self.rows, self.output_dir / "curves.png")

    def on_fit_end(self, trainer, pl_module) -> None:
        self._plot(trainer)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._plot(trainer)
