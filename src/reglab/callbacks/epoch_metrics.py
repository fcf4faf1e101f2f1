"""Writes metrics.csv (one row per epoch) as training goes, and curves.png at the end."""

import csv
import io
import time
from pathlib import Path

import lightning as L

from reglab import contract
from reglab.outputs.atomic import write_text
from reglab.outputs.plots import plot_curves
from reglab.run_folder import RunFolder


class EpochMetricsWriter(L.Callback):
    """One row per epoch with the epoch's train/ and val/ metrics and its duration (test/
    instead of val/ where the test set is evaluated every epoch: protocol=d2l).

    An epoch's row is completed at the start of the next epoch (or at the end of training):
    by then Lightning has published everything logged in any epoch-end hook, the module's
    included. Rows are appended at most every `write_every_s` seconds and at the end (also
    after a crash): a run of 2,000 tiny epochs neither rewrites a growing file nor opens it
    2,000 times.
    """

    def __init__(
        self,
        output_dir: str | Path,
        filename: str = contract.METRICS_CSV,
        write_every_s: float = 1.0,
    ):
        self.output_dir = Path(output_dir)
        self.path = self.output_dir / filename
        self.write_every_s = write_every_s
        self.rows: list[dict] = []
        self._columns: list[str] = []
        self._unwritten: list[dict] = []
        self._last_write = 0.0
        self._pending: dict | None = None
        self._validated = False
        self._start = self._epoch_start = 0.0
        self._trainer = None
        self._rewrite = False
        self._epoch_stage = "val/"  # the per-epoch evaluation's prefix (the module's task)

    def setup(self, trainer, pl_module, stage: str) -> None:
        self._trainer = trainer
        task = getattr(pl_module, "task", None)
        self._epoch_stage = f"{getattr(task, 'epoch_stage', 'val')}/"

    def on_fit_start(self, trainer, pl_module) -> None:
        # a resumed run goes on from the elapsed time its checkpoint recorded
        elapsed = self.rows[-1]["elapsed_s"] if self.rows else 0.0
        self._start = time.perf_counter() - elapsed

    # Checkpoints carry the rows so far: a resumed run rewrites metrics.csv from them, dropping
    # rows of epochs after the checkpoint that a killed run may have written.
    def state_dict(self) -> dict:
        if self._trainer is not None:  # checkpoints are saved after the epoch's metrics are in
            self._complete_pending(self._trainer)
        return {"rows": list(self.rows), "columns": list(self._columns)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows = list(state_dict["rows"])
        self._columns = list(state_dict["columns"])
        self._unwritten, self._pending, self._rewrite = [], None, True

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._flush(trainer)
        self._epoch_start = time.perf_counter()
        self._validated = False

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._validated = not trainer.sanity_checking

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        now = time.perf_counter()
        self._pending = {
            "validated": self._validated,
            "epoch": trainer.current_epoch + 1,
            "step": trainer.global_step,
            "epoch_s": round(now - self._epoch_start, 4),  # training + validation
            "elapsed_s": round(now - self._start, 3),
        }

    def _complete_pending(self, trainer) -> None:
        if self._pending is not None:
            row, self._pending = self._pending, None
            # Evaluation values stay in callback_metrics between validations: take them only
            # from epochs that validated, so curves show when validation really ran. The
            # final test's test/* (after fit) are not an epoch's.
            skip = {"test/", "val/"} - ({self._epoch_stage} if row.pop("validated") else set())
            skip = tuple(sorted(skip))
            for key, value in sorted(trainer.callback_metrics.items()):
                if "/" in key and not key.startswith(skip):
                    row[key] = float(value)
            self.rows.append(row)
            self._unwritten.append(row)

    def _flush(self, trainer, force: bool = False) -> None:
        self._complete_pending(trainer)
        now = time.perf_counter()
        due = force or now - self._last_write >= self.write_every_s
        if self._unwritten and due and trainer.is_global_zero:
            self._write(self._unwritten)
            self._unwritten, self._last_write = [], now

    def _write(self, rows: list[dict]) -> None:
        try:
            self._write_rows(rows)
        except OSError as exc:  # a full disk surfaces at close, without the file's name
            exc.filename = exc.filename or str(self.path)
            raise

    def _write_rows(self, rows: list[dict]) -> None:
        # The whole file, atomically (at most once a second): a full disk leaves the previous
        # metrics.csv whole, never a half-written row.
        new_columns = [k for row in rows for k in row if k not in self._columns]
        self._columns += list(dict.fromkeys(new_columns))
        self._rewrite = False
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=self._columns)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.path, text.getvalue())

    def _finish(self, trainer, pl_module) -> None:
        self._flush(trainer, force=True)
        if trainer.is_global_zero and self.rows:
            log_loss = getattr(getattr(pl_module, "task", None), "name", "") == "regression"
            plot_curves(self.rows, RunFolder(self.output_dir).curves_png, log_loss=log_loss)

    def on_train_end(self, trainer, pl_module) -> None:
        self._finish(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._finish(trainer, pl_module)
