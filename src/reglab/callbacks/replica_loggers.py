"""Each replica of a stack logs to loggers of its own (one W&B run each, in the run's group),
live, as its single run's loggers are: every epoch's row goes to them as soon as
EpochMetricsWriter completes it (a row is complete once the next epoch starts, or training
ends), then the test's values and the final numbers, and each replica's runs close with
its status.

A single run needs none of this: Lightning's own loggers get its metrics. A stack's Trainer
has no logger (a logger there would see N replicas' values as one run's); the rows are the
values each replica's single run logs at the end of each epoch, so they are what this sends.
"""

import lightning as L
from lightning.pytorch.loggers import Logger

from reglab import contract
from reglab.callbacks.epoch_metrics import EpochMetricsWriter
from reglab.loggers import finish_runs, log_final_metrics
from reglab.run_folder import ended


class ReplicaLoggers(L.Callback):
    """`loggers[k]`: replica k's loggers (each replica in the module's order; its rows are
    `writer.rows_by_replica[k]`). Placed after the writer among the Trainer's callbacks: its
    hooks run after the writer's, once the rows are complete."""

    def __init__(self, writer: EpochMetricsWriter, loggers: list[list[Logger]]):
        if len(loggers) != len(writer.rows_by_replica):
            raise ValueError(f"{len(loggers)} replicas' loggers for {len(writer.paths)} replicas")
        self.writer, self.loggers = writer, loggers
        self._sent = [0 for _ in loggers]  # each replica's rows logged so far
        self._closed: set[int] = set()  # replicas whose runs are closed
        self._csv_only: frozenset[str] = frozenset()

    def on_train_start(self, trainer, pl_module) -> None:
        # a resumed run's rows up to its checkpoint were logged by the run that wrote it (its
        # W&B runs are continued, by the id kept in each replica's folder)
        self._sent = [len(rows) for rows in self.writer.rows_by_replica]

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.send(pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.send(pl_module)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self.send(pl_module)

    def send(self, pl_module=None) -> None:
        """Each replica's rows not yet logged, to its loggers (as a single run logs its
        epoch-level values: `epoch` 0-based, at the epoch's last global step)."""
        if not any(self.loggers):  # (logger=csv: metrics.csv and metrics.json only)
            return
        if pl_module is not None:  # values a single run writes to metrics.csv only
            self._csv_only = frozenset(getattr(pl_module, "csv_only", ()))
        for k, (rows, loggers) in enumerate(
            zip(self.writer.rows_by_replica, self.loggers, strict=True)
        ):
            self._sent[k] = min(self._sent[k], len(rows))  # (rewound after an interrupt)
            while self._sent[k] < len(rows):
                row = rows[self._sent[k]]
                # counted before it is sent: a Ctrl-C while a logger takes it loses the row
                # rather than sending it twice when the interrupted run's rows are sent
                self._sent[k] += 1
                values = {
                    key: v for key, v in row.items() if "/" in key and key not in self._csv_only
                }
                values["epoch"] = row["epoch"] - 1
                for logger in loggers:
                    logger.log_metrics(values, step=row["step"])

    def finish(self, k: int, logged_config: dict, record: dict) -> None:
        """Replica k's end, as its single run's: the test's values, the final numbers (MLflow,
        TensorBoard's hparams) and its runs closed with its status (`record`: its
        metrics.json)."""
        self.send()
        loggers = self.loggers[k]
        rows = self.writer.rows_by_replica[k]
        step = rows[-1]["step"] if rows else 0
        tested = {key: v for key, v in record.items() if key.startswith("test/")}
        if tested and rows:  # (Lightning logs the test's values with the epoch too)
            tested["epoch"] = rows[-1]["epoch"]
        ok = ended(record["status"])
        try:
            if tested:
                for logger in loggers:
                    logger.log_metrics(tested, step=step)
            if ok:
                log_final_metrics(loggers, logged_config, record)
            for logger in loggers:
                # (Lightning's finalize statuses: "success", and "failed" as the run's own)
                logger.finalize("success" if ok else contract.FAILED)
        finally:
            self._close(k, exit_code=0 if ok else 1)

    def close_all(self, exit_code: int = 1) -> None:
        """Every replica's runs not closed yet, closed (a crash before their records were
        written)."""
        for k in range(len(self.loggers)):
            self._close(k, exit_code)

    def _close(self, k: int, exit_code: int) -> None:
        if k not in self._closed:
            self._closed.add(k)
            finish_runs(self.loggers[k], exit_code=exit_code)
