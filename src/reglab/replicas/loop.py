"""The shared training loop of N replicas: one forward, one backward, one optimizer step.

Why not a Lightning loop: what makes replicas worth having is that they share the per-step
cost, and Lightning's per-step cost is what dominates the small models this is for; and its
per-run callbacks (checkpoints, early stopping, divergence guard, metrics.csv) are single-model
by design, so each would need a per-replica twin anyway. The loop below is what those
callbacks do, vectorised over the replica dimension, writing the same keys.

The loss stepped is the sum over replicas of each replica's own mean loss (data loss plus its
penalty), so each replica's gradient is exactly its single-run gradient; the optimizers allowed
(`checks.ELEMENTWISE_OPTIMIZERS`) update each element from its own gradient and state, so one
step over the stacked tensors is N single-run steps. Nothing here reduces across replicas:
a replica whose loss turns NaN cannot touch another.

Replicas stop independently (divergence, early stopping): a stopped replica is frozen, i.e. its
slice of every parameter is written back after each step, so neither its gradient nor the
optimizer's momentum/Adam state moves it. It still rides along in the stacked arithmetic
(cheaper than restacking) but its metrics are no longer recorded.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.func import vmap

from reglab.callbacks.seeding import epoch_seed, seed_device
from reglab.lit.tasks import Task
from reglab.regularizers.config import EarlyStoppingConfig
from reglab.regularizers.regularization import Regularization
from reglab.replicas.batches import ReplicaBatches
from reglab.replicas.stack import StackedNet

log = logging.getLogger("reglab")


@dataclass
class ReplicaOutcome:
    """What one replica did: its metrics.csv rows and how it ended."""

    rows: list[dict] = field(default_factory=list)
    status: str = "completed"  # | diverged
    divergence: dict | None = None
    early_stopping: dict | None = None
    # the last time the best weights improved (the epoch best.ckpt would hold), 1-based
    best_epoch: int | None = None


@dataclass
class LoopSettings:
    max_epochs: int
    check_val_every_n_epoch: int = 1
    validation: bool = True  # a validation split exists
    keep_best: bool = True  # keep best weights by the task's monitor (best.ckpt)
    early_stopping: EarlyStoppingConfig | None = None
    max_grad_norm: float | None = None
    base_seed: int = 0  # masks are reseeded per epoch from (base_seed, epoch), as EpochSeeding


def _per_replica(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, ..., 1), broadcastable against a stacked tensor."""
    return mask.view(-1, *([1] * (like.dim() - 1)))


class ReplicaLoop:
    def __init__(
        self,
        stacked: StackedNet,
        task: Task,
        regularization: Regularization,
        optimizer: torch.optim.Optimizer,
        batches: ReplicaBatches,
        evaluation: Callable[[str, dict | None], dict[str, torch.Tensor]],
        prepare: Callable[[torch.Tensor], torch.Tensor],
        weight_names: list[str],
        settings: LoopSettings,
    ):
        self.net, self.task, self.reg = stacked, task, regularization
        self.optimizer, self.batches = optimizer, batches
        self.evaluate, self.prepare = evaluation, prepare
        self.weight_names = weight_names
        self.s = settings
        self.scheduler = regularization.scheduler(optimizer, settings.max_epochs)
        n = stacked.num_replicas
        device = next(iter(stacked.params.values())).device
        self.device = device
        self.outcomes = [ReplicaOutcome() for _ in range(n)]
        self.active = torch.ones(n, dtype=torch.bool, device=device)
        self._frozen: dict[str, torch.Tensor] | None = None  # stopped replicas' weights
        self.best_params = {k: v.detach().clone() for k, v in stacked.params.items()}
        mode = task.mode
        self.best_value = torch.full((n,), -math.inf if mode == "max" else math.inf, device=device)
        self.best_metric = self.best_value.clone()  # val/<monitor>_best (MaxMetric/MinMetric)
        self.loss_max = torch.full((n,), -math.inf, device=device)
        self.step = 0
        self._loss_per_replica = vmap(task.loss)
        es = settings.early_stopping
        if es is not None:
            sign = -1.0 if es.resolved_mode == "max" else 1.0
            self._es_sign = sign  # compare sign * value, always minimising
            self._es_best = torch.full((n,), math.inf, device=device)
            self._es_wait = torch.zeros(n, dtype=torch.long, device=device)

    # -- per replica quantities --------------------------------------------------------------
    def penalty(self) -> torch.Tensor:
        """The explicit penalty of each replica, (N,): l2/2 * sum(w^2) + l1 * sum(|w|)."""
        weights = [self.net.params[name] for name in self.weight_names]
        total = weights[0].new_zeros(self.net.num_replicas)
        if self.reg.cfg.l2 > 0:
            total = total + self.reg.cfg.l2 * sum(w.pow(2).flatten(1).sum(1) for w in weights) / 2
        if self.reg.cfg.l1 > 0:
            total = total + self.reg.cfg.l1 * sum(w.abs().flatten(1).sum(1) for w in weights)
        return total

    @torch.no_grad()
    def weight_norm(self) -> torch.Tensor:
        # one norm kernel per tensor, then ||w|| = sqrt(sum of squared per-tensor norms)
        weights = [self.net.params[name] for name in self.weight_names]
        norms = torch.stack([torch.linalg.vector_norm(w.flatten(1), dim=1) for w in weights])
        return torch.linalg.vector_norm(norms, dim=0)

    @torch.no_grad()
    def grad_norm(self) -> torch.Tensor:
        grads = [p.grad for p in self.net.params.values() if p.grad is not None]
        return torch.sqrt(sum(g.pow(2).flatten(1).sum(1) for g in grads))

    # -- freezing ------------------------------------------------------------------------------
    @torch.no_grad()
    def freeze(self, stopped: torch.Tensor) -> None:
        """Stops the replicas in `stopped` (N,) bool with the weights they have now."""
        if self._frozen is None:
            self._frozen = {k: v.detach().clone() for k, v in self.net.params.items()}
        for name, p in self.net.params.items():
            self._frozen[name] = torch.where(_per_replica(stopped, p), p, self._frozen[name])
        self.active &= ~stopped

    @torch.no_grad()
    def _hold_frozen(self) -> None:
        for name, p in self.net.params.items():
            p.copy_(torch.where(_per_replica(self.active, p), p, self._frozen[name]))

    # -- training -----------------------------------------------------------------------------
    def fit(self) -> list[ReplicaOutcome]:
        start = time.perf_counter()
        for epoch in range(self.s.max_epochs):
            if not bool(self.active.any()):
                break
            epoch_start = time.perf_counter()
            values = self._train_epoch(epoch)
            validated = self.s.validation and (epoch + 1) % self.s.check_val_every_n_epoch == 0
            if validated:
                values.update(self._validate(epoch))
            now = time.perf_counter()
            timing = {"epoch_s": round(now - epoch_start, 4), "elapsed_s": round(now - start, 3)}
            self._record(epoch, values, timing)
            if validated and self.s.early_stopping is not None:
                self._early_stopping(epoch, values)
            if self.scheduler is not None:
                self.scheduler.step()
            if (epoch + 1) % max(1, self.s.max_epochs // 10) == 0:  # no progress bar: a line
                self._log_progress(epoch, values)
        return self.outcomes

    def _log_progress(self, epoch: int, values: dict[str, torch.Tensor]) -> None:
        active = int(self.active.sum())
        losses = {k: v for k, v in values.items() if k.endswith("/loss")}
        shown = {k: float(v[self.active].float().mean()) for k, v in losses.items()}
        means = ", ".join(f"{k} {v:.4g}" for k, v in shown.items())
        log.info(
            "Epoch %d/%d: %d of %d replicas training; their mean %s",
            epoch + 1,
            self.s.max_epochs,
            active,
            self.net.num_replicas,
            means,
        )

    def _train_epoch(self, epoch: int) -> dict[str, torch.Tensor]:
        self._seed_epoch(epoch)
        n = self.net.num_replicas
        zeros = torch.zeros(n, device=self.device)
        loss_sum, seen, correct, penalty_sum = zeros.clone(), 0, zeros.clone(), zeros.clone()
        bad_step = torch.full((n,), -1, dtype=torch.long, device=self.device)
        bad_value = zeros.clone()
        bad_kind = torch.zeros(n, dtype=torch.long, device=self.device)  # 0 loss, 1 grad_norm
        steps = 0
        classification = self.task.name == "classification"
        for x, y in self.batches.epoch(epoch):
            batch = x.shape[1]
            x = self.prepare(x.flatten(0, 1)).view(n, batch, *x.shape[2:])
            outputs = self.net.forward_train(x)
            data_loss = self._loss_per_replica(outputs, y)  # (N,)
            loss = data_loss
            if self.reg.has_penalty:
                penalty = self.penalty()
                loss = loss + penalty
                penalty_sum += penalty.detach()
            self.optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            # divergence, found without a host sync per step: the first bad step per replica
            value = loss.detach()
            bad = ~torch.isfinite(value)
            kind = torch.zeros_like(bad_kind)
            if self.s.max_grad_norm is not None:
                norm = self.grad_norm()
                exploded = ~bad & (~torch.isfinite(norm) | (norm > self.s.max_grad_norm))
                value = torch.where(exploded, norm, value)
                kind = exploded.long()
                bad = bad | exploded
            first = bad & (bad_step < 0) & self.active
            bad_step = torch.where(first, self.step, bad_step)
            bad_value = torch.where(first, value, bad_value)
            bad_kind = torch.where(first, kind, bad_kind)
            self.optimizer.step()
            if self._frozen is not None:
                self._hold_frozen()
            with torch.no_grad():
                loss_sum += data_loss.detach() * batch
                seen += batch
                if classification:
                    correct += (outputs.argmax(-1) == y).sum(1)
                self.loss_max = torch.maximum(self.loss_max, loss.detach())
            self.step += 1
            steps += 1
        self._diverged(epoch, bad_step, bad_value, bad_kind)
        values = {"train/loss": loss_sum / seen}
        if classification:
            values["train/acc"] = correct / seen
        values["train/penalty"] = penalty_sum / steps if self.reg.has_penalty else zeros
        values["train/w_norm"] = self.weight_norm()
        values["train/lr"] = torch.full((n,), float(self.optimizer.param_groups[0]["lr"]))
        values["train/loss_max"] = self.loss_max.clone()
        return values

    def _seed_epoch(self, epoch: int) -> None:
        """Masks depend on (seed, epoch) only, as a single run's EpochSeeding makes them."""
        seed_device(epoch_seed(self.s.base_seed, epoch), self.device)

    def _diverged(self, epoch: int, step: torch.Tensor, value: torch.Tensor, kind: torch.Tensor):
        """Replicas that diverged this epoch stop, recorded as a single run's guard records."""
        hit = step >= 0
        if not bool(hit.any()):  # the one host sync per epoch
            return
        for k in hit.nonzero().flatten().tolist():
            what = "loss" if int(kind[k]) == 0 else "grad_norm"
            self.outcomes[k].status = "diverged"
            record = {"kind": what, "epoch": epoch + 1, "step": int(step[k])}
            self.outcomes[k].divergence = record | {"value": float(value[k])}
        self.freeze(hit)

    @torch.no_grad()
    def _validate(self, epoch: int) -> dict[str, torch.Tensor]:
        # keyed as the single run keys its per-epoch evaluation (test/* under protocol=d2l)
        stage = self.task.epoch_stage
        values = {f"{stage}/{k.split('/', 1)[1]}": v for k, v in self.evaluate("val").items()}
        monitor = values[self.task.monitor]
        better = monitor > self.best_value if self.task.mode == "max" else monitor < self.best_value
        improved = better & self.active
        if self.s.keep_best:
            for name, p in self.net.params.items():
                best = self.best_params[name]
                self.best_params[name] = torch.where(_per_replica(improved, p), p, best)
        self.best_value = torch.where(improved, monitor, self.best_value)
        for k in improved.nonzero().flatten().tolist():
            self.outcomes[k].best_epoch = epoch + 1
        pick = torch.maximum if self.task.mode == "max" else torch.minimum
        # MaxMetric/MinMetric ignore NaN (torchmetrics' default nan strategy warns and skips)
        finite = torch.isfinite(monitor)
        updated = torch.where(finite, pick(self.best_metric, monitor), self.best_metric)
        self.best_metric = torch.where(self.active, updated, self.best_metric)
        values[f"{self.task.monitor}_best"] = self.best_metric.clone()
        return values

    def _early_stopping(self, epoch: int, values: dict[str, torch.Tensor]) -> None:
        """Lightning's EarlyStopping rule, per replica: stop after `patience` validations
        without an improvement larger than `min_delta` (or at once on a non-finite value)."""
        es = self.s.early_stopping
        current = self._es_sign * values[es.monitor].to(self.device)
        improved = current < self._es_best - es.min_delta
        self._es_best = torch.where(improved & self.active, current, self._es_best)
        self._es_wait = torch.where(improved, 0, self._es_wait + 1)
        stop = self.active & (~torch.isfinite(current) | (self._es_wait >= es.patience))
        if not bool(stop.any()):
            return
        for k in stop.nonzero().flatten().tolist():
            best = float(self._es_sign * self._es_best[k])
            self.outcomes[k].early_stopping = {
                "stopped": True,
                "stopped_epoch": epoch + 1,
                "reason": (
                    f"Monitored metric {es.monitor} did not improve in the last "
                    f"{int(self._es_wait[k])} records. Best score: {best:.3f}. "
                    "Signaling Trainer to stop."
                ),
                "best": best,
            }
        self.freeze(stop)

    def early_stopping_records(self) -> None:
        """Replicas that ran to the end: what a single run's record says."""
        if self.s.early_stopping is None:
            return
        for k, outcome in enumerate(self.outcomes):
            if outcome.early_stopping is None:
                best = float(self._es_sign * self._es_best[k])
                outcome.early_stopping = {
                    "stopped": False,
                    "stopped_epoch": None,
                    "reason": "did not stop early",
                    "best": best,
                }

    def _record(self, epoch: int, values: dict[str, torch.Tensor], timing: dict) -> None:
        """One metrics.csv row per replica still training (the columns of a single run)."""
        columns = {key: values[key].detach().cpu().tolist() for key in sorted(values)}
        for k, outcome in enumerate(self.outcomes):
            if outcome.status == "diverged" and outcome.divergence["epoch"] == epoch + 1:
                continue  # a single run stops mid-epoch: no row for the epoch it diverged in
            if outcome.status == "diverged" or (
                outcome.early_stopping is not None and outcome.early_stopping["stopped"]
            ):
                continue
            row = {"epoch": epoch + 1, "step": self.step, **timing}
            row.update({key: column[k] for key, column in columns.items()})
            outcome.rows.append(row)
