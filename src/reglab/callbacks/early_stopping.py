"""Early stopping (`regularizer=early_stopping`), per replica: Lightning's EarlyStopping rule
written once over an (N,) tensor, so that one callback serves a single run (N = 1: the run
stops) and a stack of replicas (each stops on its own: reglab.callbacks.per_replica).

The rule is Lightning's: after each validation (or each training epoch, for a `train/`
monitor, as Lightning's `check_on_train_epoch_end`), a replica
whose `monitor` is not finite stops at once; one whose `monitor` improved on its best by more
than `min_delta` resets its wait; any other waits one more validation, and stops when it has
waited `patience`. The reasons are Lightning's texts. metrics.json records when and why
(`record(k)`); checkpoints carry the state (a resumed run goes on counting).
"""

import math

import torch
from lightning.pytorch.callbacks import EarlyStopping as LightningEarlyStopping
from lightning.pytorch.trainer.states import TrainerFn

from reglab.callbacks.per_replica import recording_mask, stop_replicas, values_per_replica
from reglab.config.errors import ConfigError


class EarlyStopping(LightningEarlyStopping):
    """A Lightning EarlyStopping (Lightning calls it after the module's epoch-end hooks, where
    a single run's train/ metrics are published; `trainer.early_stopping_callback` finds it)
    whose rule runs per replica; none of Lightning's scalar state is used."""

    def __init__(self, monitor: str, patience: int = 3, min_delta: float = 0.0, mode: str = "min"):
        if patience < 1:
            raise ValueError(f"early stopping patience must be >= 1, got {patience}")
        on_train_epoch = monitor.startswith("train/")  # no validation needed to read it
        super().__init__(
            monitor=monitor,
            patience=patience,
            min_delta=min_delta,
            mode=mode,
            check_on_train_epoch_end=on_train_epoch,
        )
        self._on_train_epoch = on_train_epoch
        self._min_delta = abs(float(min_delta))
        self._sign = -1.0 if mode == "max" else 1.0  # compare sign * value: always minimising
        self._best: torch.Tensor | None = None  # (N,) sign * best value
        self._wait: torch.Tensor | None = None  # (N,) validations since the last improvement
        self.stopped_epochs: list[int | None] = []  # 1-based, per replica
        self.reasons: list[str | None] = []

    @classmethod
    def for_replicas(cls, callbacks: list["EarlyStopping"]) -> "EarlyStopping":
        """One callback for stacked replicas whose own callbacks (`callbacks`, in replica
        order: a sweep's packed jobs) may differ in patience and min_delta: each replica
        waits its own patience, by its own min_delta."""
        first = callbacks[0]
        if any((c.monitor, c.mode) != (first.monitor, first.mode) for c in callbacks):
            raise ValueError("stacked replicas must monitor the same metric the same way")
        if all((c.patience, c._min_delta) == (first.patience, first._min_delta) for c in callbacks):
            return first
        stacked = cls(first.monitor, first.patience, first._min_delta, first.mode)
        stacked.patience = torch.tensor([c.patience for c in callbacks])
        stacked._min_delta = torch.tensor([c._min_delta for c in callbacks], dtype=torch.float64)
        return stacked

    def _start(self, n: int) -> None:
        if self._best is None or len(self._best) != n:
            self._best = torch.full((n,), math.inf, dtype=torch.float64)
            self._wait = torch.zeros(n, dtype=torch.long)
            self.stopped_epochs, self.reasons = [None] * n, [None] * n

    def on_validation_end(self, trainer, pl_module) -> None:
        if not self._on_train_epoch:
            self._check(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._on_train_epoch:
            self._check(trainer, pl_module)

    def _check(self, trainer, pl_module) -> None:
        if trainer.state.fn != TrainerFn.FITTING or trainer.sanity_checking:
            return
        if trainer.fast_dev_run:
            return
        values = values_per_replica(trainer, pl_module)
        if self.monitor not in values:
            available = ", ".join(sorted(k for k in values if "/" in k)) or "none"
            raise ConfigError(
                f"regularizer.early_stopping.monitor={self.monitor} is not a metric this run "
                f"logs; choose one of: {available}"
            )
        current = self._sign * values[self.monitor].detach().to("cpu", torch.float64)
        self._start(len(current))
        # replicas still training: not stopped here, nor frozen by the module (diverged)
        training = torch.tensor([epoch is None for epoch in self.stopped_epochs])
        training &= recording_mask(pl_module).cpu()
        improved = current < self._best - self._min_delta
        not_finite = ~torch.isfinite(current)
        self._best = torch.where(improved & training, current, self._best)
        self._wait = torch.where(improved | not_finite, 0, self._wait + 1)
        stop = training & (not_finite | (self._wait >= self.patience))
        if not bool(stop.any()):
            return
        epoch = trainer.current_epoch + 1
        for k in stop.nonzero().flatten().tolist():
            self.stopped_epochs[k] = epoch
            best = self._sign * float(self._best[k])
            if bool(not_finite[k]):
                value = self._sign * float(current[k])
                self.reasons[k] = (
                    f"Monitored metric {self.monitor} = {value} is not finite. Previous best "
                    f"value was {best:.3f}. Signaling Trainer to stop."
                )
            else:
                self.reasons[k] = (
                    f"Monitored metric {self.monitor} did not improve in the last "
                    f"{int(self._wait[k])} records. Best score: {best:.3f}. Signaling Trainer "
                    "to stop."
                )
        stop_replicas(trainer, pl_module, stop)

    @staticmethod
    def record_among(callbacks, k: int = 0) -> dict | None:
        """Replica k's record of the early stopping among `callbacks` (None: there is none)."""
        found = [c for c in callbacks if isinstance(c, EarlyStopping)]
        return found[0].record(k) if found else None

    def record(self, k: int = 0) -> dict:
        """What replica k's metrics.json says about it: whether, at which epoch, and why it
        stopped, and its best value."""
        stopped = k < len(self.stopped_epochs) and self.stopped_epochs[k] is not None
        best = (
            self._sign * float(self._best[k]) if self._best is not None else self._sign * math.inf
        )
        return {
            "stopped": stopped,
            "stopped_epoch": self.stopped_epochs[k] if stopped else None,
            "reason": self.reasons[k] if stopped else "did not stop early",
            "best": best,
        }

    def state_dict(self) -> dict:
        return {
            "best": self._best,
            "wait": self._wait,
            "stopped_epoch": list(self.stopped_epochs),
            "reasons": list(self.reasons),
        }

    def load_state_dict(self, state_dict: dict) -> None:
        if "best" not in state_dict:  # Lightning's EarlyStopping's (a run from before)
            best = self._sign * float(state_dict["best_score"])
            stopped = state_dict["stopped_epoch"]
            state_dict = {
                "best": torch.tensor([best], dtype=torch.float64),
                "wait": torch.tensor([int(state_dict["wait_count"])]),
                "stopped_epoch": [stopped + 1 if stopped else None],
                "reasons": [state_dict.get("stopping_reason_message")],
            }
        self._best, self._wait = state_dict["best"], state_dict["wait"]
        self.stopped_epochs = list(state_dict["stopped_epoch"])
        self.reasons = list(state_dict["reasons"])
