"""Writes metrics.csv (one row per epoch) as training goes, and curves.png at the end: one
writer for a single run and for stacked replicas (each replica's row into its own folder;
reglab.callbacks.per_replica)."""

import csv
import io
import json
import time
from pathlib import Path

import lightning as L
import torch

from reglab import contract
from reglab.callbacks.per_replica import recording_mask, steps_done, values_per_replica
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

    Stacked replicas (`replica_dirs`: one folder each, in the module's replica order): each
    replica that trained in the epoch gets its row in its own metrics.csv, with the columns
    of its single run. Their curves are drawn by the run (reglab.replicas.outputs), not here:
    a figure per replica would cost more than training them.
    """

    def __init__(
        self,
        output_dir: str | Path,
        filename: str = contract.METRICS_CSV,
        write_every_s: float = 1.0,
        replica_dirs: list[str | Path] | None = None,
    ):
        self.output_dir = Path(output_dir)
        self.draw_curves = replica_dirs is None
        dirs = [Path(d) for d in replica_dirs] if replica_dirs is not None else [self.output_dir]
        self.paths = [d / filename for d in dirs]
        self.path = self.paths[0]
        self.write_every_s = write_every_s
        self.rows_by_replica: list[list[dict]] = [[] for _ in self.paths]
        # each replica's rows as JSON, encoded once, at the checkpoint after they came: one
        # json.dumps per replica and checkpoint, not per row (toy1d's pack: 60,000 calls)
        self._json_chunks: list[list[str]] = [[] for _ in self.paths]
        self._encoded: list[int] = [0 for _ in self.paths]  # rows in those chunks
        self._columns: list[str] = []
        # each replica's rows rendered as CSV so far (under `_rendered_columns`): a write
        # renders only the new rows, not every row of a 2,000-epoch run again
        self._bodies: list[str] = ["" for _ in self.paths]
        self._rendered: list[int] = [0 for _ in self.paths]
        self._rendered_columns: list[str] = []
        self._unwritten = False
        self._last_write = 0.0
        self._interval = write_every_s  # stretched when writing takes long (see _flush)
        self._pending: dict | None = None
        self._validated = False
        self._start = self._epoch_start = 0.0
        self._trainer = self._module = None
        self._epoch_stage = "val/"  # the per-epoch evaluation's prefix (the module's task)
        self._checkpointed = {"rows_json": ["[]" for _ in self.paths], "columns": []}

    @property
    def rows(self) -> list[dict]:
        """The (first) replica's rows: a single run's."""
        return self.rows_by_replica[0]

    def setup(self, trainer, pl_module, stage: str) -> None:
        self._trainer, self._module = trainer, pl_module
        task = getattr(pl_module, "task", None)
        self._epoch_stage = f"{getattr(task, 'epoch_stage', 'val')}/"

    def on_fit_start(self, trainer, pl_module) -> None:
        # a resumed run goes on from the elapsed time its checkpoint recorded
        elapsed = max((rows[-1]["elapsed_s"] for rows in self.rows_by_replica if rows), default=0)
        self._start = time.perf_counter() - elapsed

    # Checkpoints carry the rows so far: a resumed run rewrites metrics.csv from them, dropping
    # rows of epochs after the checkpoint that a killed run may have written. As one JSON text
    # per replica (exact for floats): torch.save visits each object of thousands of small
    # dicts, which would cost more than the tiny models' epochs.
    def state_dict(self) -> dict:
        if self._trainer is not None:  # checkpoints are saved after the epoch's metrics are in
            self._complete_pending(self._trainer, self._module)
        texts = []
        for k, rows in enumerate(self.rows_by_replica):
            if len(rows) < self._encoded[k]:  # rows replaced by fewer: encoded anew
                self._json_chunks[k], self._encoded[k] = [], 0
            if len(rows) > self._encoded[k]:  # the rows since the last checkpoint
                self._json_chunks[k].append(json.dumps(rows[self._encoded[k] :])[1:-1])
                self._encoded[k] = len(rows)
            texts.append(_text_tensor("[" + ",".join(self._json_chunks[k]) + "]"))
        self._checkpointed = {"rows_json": texts, "columns": list(self._columns)}
        return dict(self._checkpointed)

    def rewind(self) -> None:
        """Back to the rows of the last checkpoint written, files included: what an interrupted
        stack leaves (each replica as of that checkpoint)."""
        self.load_state_dict(self._checkpointed)
        self._flush(self._trainer, self._module, force=True)
        for path, rows in zip(self.paths, self.rows_by_replica, strict=True):
            if not rows:  # no checkpoint yet: no rows either
                path.unlink(missing_ok=True)

    def load_state_dict(self, state_dict: dict) -> None:
        if "rows_json" in state_dict:
            texts = state_dict["rows_json"]
            self.rows_by_replica = [json.loads(_tensor_text(text)) for text in texts]
        else:  # a checkpoint of a single run from before rows were JSON
            self.rows_by_replica = [list(state_dict["rows"])]
        self._json_chunks = [[] for _ in self.rows_by_replica]  # (encoded at the next one)
        self._encoded = [0 for _ in self.rows_by_replica]
        every = (key for rows in self.rows_by_replica for row in rows for key in row)
        self._columns = list(state_dict.get("columns") or dict.fromkeys(every))
        self._pending, self._unwritten = None, True  # rewritten from these rows
        self._rendered_columns = []  # (every row rendered again)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._flush(trainer, pl_module)
        self._epoch_start = time.perf_counter()
        self._validated = False

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        self._validated = not trainer.sanity_checking

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        now = time.perf_counter()
        self._pending = {
            "validated": self._validated,
            "recording": recording_mask(pl_module).tolist(),
            "epoch": trainer.current_epoch + 1,
            "step": steps_done(trainer, pl_module),
            "epoch_s": round(now - self._epoch_start, 4),  # training + validation
            "elapsed_s": round(now - self._start, 3),
        }

    def _complete_pending(self, trainer, pl_module) -> None:
        if self._pending is None:
            return
        row, self._pending = self._pending, None
        # Evaluation values stay in callback_metrics between validations: take them only
        # from epochs that validated, so curves show when validation really ran. The final
        # test's test/* (after fit) are not an epoch's.
        skip = {"test/", "val/"} - ({self._epoch_stage} if row.pop("validated") else set())
        skip = tuple(sorted(skip))
        recording = row.pop("recording")
        values = values_per_replica(trainer, pl_module)
        columns = {
            key: value.detach().double().cpu().tolist()
            for key, value in sorted(values.items())
            if "/" in key and not key.startswith(skip)
        }
        new = [key for key in (*row, *columns) if key not in self._columns]
        self._columns += new  # in their first appearance's order
        for k, rows in enumerate(self.rows_by_replica):
            if recording[k]:
                replica_row = row | {key: column[k] for key, column in columns.items()}
                rows.append(replica_row)
                self._unwritten = True

    def _flush(self, trainer, pl_module, force: bool = False) -> None:
        self._complete_pending(trainer, pl_module)
        now = time.perf_counter()
        due = force or now - self._last_write >= self._interval
        if self._unwritten and due and trainer.is_global_zero:
            self._write()
            self._unwritten, self._last_write = False, time.perf_counter()
            if self.write_every_s > 0:  # writing takes at most ~5% of training (N files)
                self._interval = max(self.write_every_s, 20 * (self._last_write - now))

    def _write(self) -> None:
        if self._rendered_columns != self._columns:  # a new column: every row again
            self._bodies = ["" for _ in self.paths]
            self._rendered = [0 for _ in self.paths]
            self._rendered_columns = list(self._columns)
        header = _csv_text([dict(zip(self._columns, self._columns, strict=True))], self._columns)
        for k, (path, rows) in enumerate(zip(self.paths, self.rows_by_replica, strict=True)):
            if not rows:
                continue
            self._bodies[k] += _csv_text(rows[self._rendered[k] :], self._columns)
            self._rendered[k] = len(rows)
            try:
                # The whole file, atomically: a full disk leaves the previous metrics.csv
                # whole, never a half-written row.
                write_text(path, header + self._bodies[k])
            except OSError as exc:  # a full disk surfaces at close, without the file's name
                exc.filename = exc.filename or str(path)
                raise

    def _finish(self, trainer, pl_module) -> None:
        self._flush(trainer, pl_module, force=True)
        if self.draw_curves and trainer.is_global_zero and self.rows:
            log_loss = getattr(getattr(pl_module, "task", None), "name", "") == "regression"
            plot_curves(self.rows, RunFolder(self.output_dir).curves_png, log_loss=log_loss)

    def on_train_end(self, trainer, pl_module) -> None:
        self._finish(trainer, pl_module)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._finish(trainer, pl_module)


def _text_tensor(text: str) -> torch.Tensor:
    """`text`'s UTF-8 bytes as a uint8 tensor. The rows grow with the epochs (megabytes by the
    end of a long run), and torch.save writes a tensor's bytes as they are, ~4x faster than it
    pickles a str of the same bytes."""
    return torch.frombuffer(bytearray(text, "utf-8"), dtype=torch.uint8)


def _tensor_text(value) -> str:
    """_text_tensor's text back (a str: a checkpoint written before the rows were a tensor)."""
    return value if isinstance(value, str) else value.numpy().tobytes().decode("utf-8")


def _csv_text(rows: list[dict], columns: list[str]) -> str:
    text = io.StringIO(newline="")
    csv.DictWriter(text, fieldnames=columns).writerows(rows)
    return text.getvalue()
