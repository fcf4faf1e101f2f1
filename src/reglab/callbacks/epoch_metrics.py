"""Writes metrics.csv (one row per epoch) as training goes, and curves.png at the end."""

import csv
import time
from pathlib import Path

import lightning as L

from reglab.outputs.plots import plot_curves


class EpochMetricsWriter(L.Callback):
    """One row per epoch with the epoch's train/ and val/ metrics and its duration.

    An epoch's row is completed at the start of the next epoch (or at the end of training):
    by then Lightning has published everything logged in any epoch-end hook, the module's
    included. Rows are appended, so the file is complete after a crash and a run of 2,000
    tiny epochs does not rewrite a growing file each epoch.
    """

    def __init__(self, output_dir: str | Path, filename: str = "metrics.csv"):
        self.output_dir = Path(output_dir)
        self.path = self.output_dir / filename
        self.rows: list[dict] = []
        self._columns: list[str] = []
        self._pending: dict | None = None
        self._start = self._epoch_start = 0.0

    def on_fit_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._flush(trainer)
        self._epoch_start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        now = time.perf_counter()
        self._pending = {
            "epoch": trainer.current_epoch + 1,
            "step": trainer.global_step,
            "epoch_s": round(now - self._epoch_start, 4),  # training + validation
            "elapsed_s": round(now - self._start, 3),
        }

    def _flush(self, trainer) -> None:
        if self._pending is None:
            return
        row, self._pending = self._pending, None
        for key, value in sorted(trainer.callback_metrics.items()):
            if key.startswith(("train/", "val/")):
                row[key] = float(value)
        self.rows.append(row)
        if trainer.is_global_zero:
            self._write(row)

    def _write(self, row: dict) -> None:
        new_columns = [k for k in row if k not in self._columns]
        if new_columns:  # rare (e.g. the first validation epoch): rewrite with all columns
            self._columns += new_columns
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self._columns)
                writer.writeheader()
                writer.writerows(self.rows)
            return
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=self._columns).writerow(row)

    def _finish(self, trainer, pl_module) -> None:
        self._flush(trainer)
        if trainer.is_global_zero and self.rows:
            log_loss = getattr(getattr(pl_module, "task", None), "name", "") == "regression"
            plot_curves(self.rows, self.output_dir / "curves.png", log_loss=log_loss)

    def on_train_end(self, trainer, pl_module) -> None:
        self._finish(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._finish(trainer, pl_module)
