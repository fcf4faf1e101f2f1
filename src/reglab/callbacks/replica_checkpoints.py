"""A stack's checkpoints (reglab.replicas.module): each replica's best weights by the monitor of
its single run's `callbacks.model_checkpoint` (monitor, mode, every_n_epochs), and the stack's
own checkpoint (<run>/checkpoints/last.ckpt: weights, optimizer, loops and every callback's
state, for resume) after every validated epoch and the last, as a single run's
`last_checkpoint` writes its last.ckpt.

A single run has Lightning's ModelCheckpoint for both. A stack's best differs per replica, so
here the rule is Lightning's (a replica's weights are kept when its monitored value is better
than its best so far; NaN never is) over (N,) values, and the best weights are kept in memory
(in the stack's checkpoint, for resume). Each replica's best.ckpt / last.ckpt file is written
once training ends (reglab.app.replicas): writing N files at every improvement would cost
more than training the small models does.

A Checkpoint callback: Lightning calls it after the module's and every other callback's
epoch-end hooks (early stopping included), so the epoch's values and stops are all in.
"""

from pathlib import Path

import torch
from lightning.pytorch.callbacks import Checkpoint

from reglab.callbacks.per_replica import cpu_copy, replica_view
from reglab.config.errors import ConfigError


class ReplicaCheckpoints(Checkpoint):
    """`monitor` / `mode` / `every_n_epochs`: the single run's best-checkpoint callback's
    (None: no best weights, as a single run without one, or whose validation split is its
    test split). `run_ckpt`: where the stack's checkpoint goes (None: nowhere; the module
    still keeps its state as of then, what an interrupted stack writes)."""

    def __init__(
        self,
        run_ckpt: Path | None,
        monitor: str | None,
        mode: str = "max",
        every_n_epochs: int = 1,
        save_every_n_epochs: int = 1,
    ):
        if mode not in ("min", "max"):
            raise ConfigError(f"callbacks.model_checkpoint.mode must be min or max, got {mode!r}")
        self.run_ckpt, self.monitor, self.mode = run_ckpt, monitor, mode
        self.every_n_epochs = max(1, every_n_epochs or 1)
        self.save_every_n_epochs = max(1, save_every_n_epochs or 1)
        self.best_params: dict[str, torch.Tensor] = {}  # stacked, (N, ...) each
        self.best_buffers: dict[str, torch.Tensor] = {}  # their running statistics
        self.best_value: torch.Tensor | None = None  # (N,)
        self.best_epochs: list[int | None] = []  # 1-based; None: never improved
        self._checkpointed: dict | None = None  # state_dict() of the last checkpoint written

    @property
    def keeps_best(self) -> bool:
        return self.monitor is not None

    def on_train_start(self, trainer, pl_module) -> None:
        net = pl_module.net
        n = net.num_replicas
        device = pl_module.active.device
        if self.best_value is None:  # not resumed: the first weights, never "best" yet
            self.best_params = {k: v.detach().clone() for k, v in net.params.items()}
            self.best_buffers = {k: v.detach().clone() for k, v in net.buffers.items()}
            worst = -torch.inf if self.mode == "max" else torch.inf
            self.best_value = torch.full((n,), worst, device=device)
            self.best_epochs = [None] * n
        else:  # (in the dtype and on the device the run's weights are)
            self.best_params = _like(self.best_params, net.params)
            self.best_buffers = _like(self.best_buffers, net.buffers)
            self.best_value = self.best_value.to(device)
        if self._checkpointed is None:  # interrupted before the first checkpoint: this
            self._checkpointed = self.state_dict()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        done = trainer.current_epoch + 1
        if self.keeps_best and done % self.every_n_epochs == 0:
            self._keep_better(pl_module, done)
        last = done == trainer.max_epochs or trainer.should_stop
        if done % self.save_every_n_epochs == 0 or last:
            pl_module.checkpoint_run(self.run_ckpt, done)

    @torch.no_grad()
    def _keep_better(self, pl_module, done: int) -> None:
        values = pl_module.replica_values()
        current = values.get(self.monitor)
        if current is None:
            stage = self.monitor.split("/", 1)[0] + "/"
            if any(key.startswith(stage) for key in values):  # evaluated, but no such key
                raise ConfigError(
                    f"callbacks.model_checkpoint.monitor={self.monitor} is not a metric of "
                    f"this run; it has {', '.join(sorted(values))}"
                )
            return  # not evaluated this epoch (validation every n epochs)
        current = current.to(self.best_value)
        better = current > self.best_value if self.mode == "max" else current < self.best_value
        improved = better & pl_module.replicas_recording()  # (NaN is never better)
        net = pl_module.net
        for best, now in ((self.best_params, net.params), (self.best_buffers, net.buffers)):
            for name, t in now.items():
                best[name] = torch.where(replica_view(improved, t), t, best[name])
        self.best_value = torch.where(improved, current, self.best_value)
        for k in improved.nonzero().flatten().tolist():
            self.best_epochs[k] = done

    def best_weights(self) -> tuple[dict, dict] | None:
        """The stacked best weights and running statistics (None: no best kept)."""
        return (self.best_params, self.best_buffers) if self.keeps_best else None

    def state_dict(self) -> dict:
        state = {
            "best_value": self.best_value,
            "best_epochs": list(self.best_epochs),
            "best_params": self.best_params if self.keeps_best else {},
            "best_buffers": self.best_buffers if self.keeps_best else {},
        }
        state = cpu_copy(state)
        self._checkpointed = state
        return dict(state)

    def load_state_dict(self, state_dict: dict) -> None:
        self.best_value = state_dict["best_value"]
        self.best_epochs = list(state_dict["best_epochs"])
        self.best_params = dict(state_dict.get("best_params") or {})
        self.best_buffers = dict(state_dict.get("best_buffers") or {})
        self._checkpointed = dict(state_dict)

    def rewind(self, device: torch.device) -> None:
        """Back to the state of the last checkpoint written (what an interrupted stack
        writes: each replica as of that checkpoint)."""
        if self._checkpointed is not None:
            self.load_state_dict(self._checkpointed)
            self.best_params = {k: v.to(device) for k, v in self.best_params.items()}
            self.best_buffers = {k: v.to(device) for k, v in self.best_buffers.items()}


def _like(saved: dict, current: dict) -> dict:
    return {k: v.to(current[k].device, current[k].dtype) for k, v in saved.items()}
