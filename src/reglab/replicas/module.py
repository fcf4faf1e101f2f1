"""N replicas as one LightningModule, driven by Lightning's Trainer.

The module's parameters are the stacked tensors (reglab.replicas.stack): one forward, one
backward and one optimizer step serve N replicas, through Lightning's optimizer wrapper,
precision plugin, profiler and checkpointing. As a single run on a small data set
(`dataset.batches_per_step`), a training step is a whole epoch's minibatches (manual
optimization), so Lightning's per-step cost is paid once per epoch.

The loss stepped is the sum over replicas of each replica's own mean loss (data loss plus its
penalty), so each replica's gradient is exactly its single-run gradient; the optimizers allowed
(`checks.ELEMENTWISE_OPTIMIZERS`) update each element from its own gradient and state, so one
step over the stacked tensors is N single-run steps. Nothing here reduces across replicas:
a replica whose loss turns NaN cannot touch another.

The callbacks a single run has serve the replicas too: the module is read and stopped through
reglab.callbacks.per_replica (`replica_values`, `replicas_recording`, `stop_replicas`), so
early stopping and the metrics rows (EpochMetricsWriter: each replica's metrics.csv, live) are
written once. Replicas stop independently: a stopped replica is frozen, i.e. its slice of every
parameter, of every buffer (running statistics) and of the optimizer's state is written back
after each step. It still rides along in the stacked arithmetic (cheaper than restacking) but
its metrics are no longer recorded.
A replica that diverges goes back to the weights, running statistics and optimizer state of
the last checkpoint (finite; what a single run's last.ckpt holds then): NaN weights are never
kept.

The run's checkpoint (<run>/checkpoints/last.ckpt, after every validated epoch and the last)
is Lightning's own (`trainer.save_checkpoint`: weights and buffers, optimizer and scheduler
state, loop progress) with the per-replica state (`loop_state()`: best weights, statuses, rows,
early-stopping counters) under `RUN_STATE`; `trainer.fit(ckpt_path=...)` goes on from it and
ends with exactly the numbers of an uninterrupted run: masks and data order are drawn from
(seed, epoch) only.
"""

import dataclasses
import itertools
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import lightning as L
import torch
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities.model_helpers import is_overridden
from torch import nn

from reglab import contract
from reglab.callbacks.epoch_metrics import EpochMetricsWriter
from reglab.callbacks.per_replica import cpu_copy, replica_view
from reglab.callbacks.replica_checkpoints import ReplicaCheckpoints
from reglab.config.errors import ConfigError
from reglab.lit.tasks import Task
from reglab.regularizers.regularization import Regularization
from reglab.replicas.batches import ReplicaBatches
from reglab.replicas.networks import ReplicaNetworks
from reglab.replicas.stack import StackedNet
from reglab.replicas.state import RUN_STATE

log = logging.getLogger("reglab")
OptimizerFactory = Callable[[Iterable], torch.optim.Optimizer]
# what Lightning's checkpoint holds already: not repeated under RUN_STATE
LIGHTNING_PARTS = ("params", "buffers", "optimizer", "scheduler")


@dataclass
class ReplicaOutcome:
    """How one replica ended (its metrics rows are EpochMetricsWriter's)."""

    status: str = contract.COMPLETED  # | DIVERGED
    divergence: dict | None = None
    message: str | None = None  # the divergence's, as a single run's DivergenceError says it
    # a diverged replica's weights are those of its last checkpoint: after this many epochs
    weights_epoch: int | None = None


@dataclass
class LoopSettings:
    max_epochs: int
    train_batches: int | None = None  # trainer.limit_train_batches, as a count (None: all)
    # trainer.gradient_clip_val / gradient_clip_algorithm: each replica clipped as its single
    # run (Lightning clips only under automatic optimization)
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"


class OneStep:
    """A loader of one item: a training "batch" is the whole epoch (ReplicaBatches), a
    validation one the whole split (the evaluation reads it in its own batches)."""

    def __iter__(self):
        yield 0

    def __len__(self) -> int:
        return 1


class WholeSplit:
    """A loader of one item, the whole split (inputs, targets): what the test's batch-end
    hooks read (the evaluation reads it in its own batches)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __iter__(self):
        yield self.x, self.y

    def __len__(self) -> int:
        return 1


class ReplicaModule(L.LightningModule):
    def __init__(
        self,
        stacked: StackedNet,
        task: Task,
        regularization: Regularization,
        optimizer: Callable[[list[dict]], torch.optim.Optimizer],
        groups: list[dict],
        batches: ReplicaBatches,
        evaluation: Callable[[str, dict | None], dict[str, torch.Tensor]],
        prepare: Callable[[torch.Tensor], torch.Tensor],
        weight_names: list[str],
        settings: LoopSettings,
        hidden_names: list[str] = (),
        seeds: list[int] = (),
        augments: list | None = None,
        hyper=None,
        data=None,
        folders: list | None = None,
    ):
        """`optimizer(groups)` builds the optimizer over `groups` (parameter groups of the
        stacked tensors); `evaluation(stage, params)` evaluates every replica on a split."""
        super().__init__()
        self.automatic_optimization = False  # an epoch's minibatches in one training_step
        self.net, self.task, self.reg = stacked, task, regularization
        # the stacked tensors are the module's parameters: Lightning moves, casts, checkpoints
        # and steps them
        self.replica_params = nn.ParameterList(list(stacked.params.values()))
        self.replica_buffers = stacked.buffer_module  # running statistics: likewise
        self.optimizer_factory, self.groups = optimizer, groups
        self.batches = batches
        self.evaluate, self.prepare = evaluation, prepare
        self.weight_names = weight_names  # what penalties act on (weight_parameters)
        self.hidden_names = list(hidden_names)  # what constraints act on (hidden weights)
        self.s = settings
        self.seeds = list(seeds)
        # each replica's run folder (a seeds=N run's seed_<k>/, a pack's job folders): where
        # callbacks that write files put replica k's (reglab.callbacks.networks)
        self.folders = list(folders) if folders is not None else None
        # regularizer=augment: one BatchAugment per replica, seeded as its single run's
        self.augments = augments
        # a pack's per-replica learning rates / weight decays (reglab.replicas.hyper), or None
        self.hyper = hyper
        self.data = data
        n = stacked.num_replicas
        device = next(iter(stacked.params.values())).device
        self.outcomes = [ReplicaOutcome() for _ in range(n)]
        self.active = torch.ones(n, dtype=torch.bool, device=device)
        # the replicas whose epoch counts: training as it began, not diverged in it
        self.recording = self.active.clone()
        self._frozen: dict[str, torch.Tensor] | None = None  # stopped replicas' weights
        self._frozen_state: dict[int, dict[str, torch.Tensor]] = {}  # ... optimizer state
        self.step = 0
        self.last_state: dict | None = None  # loop_state() at the last checkpointed epoch
        self._resumed: dict | None = None  # the RUN_STATE part of the checkpoint resumed
        self._saving: dict | None = None  # loop_state() of the checkpoint being written
        # val/<monitor>_best, as RegLabModule's MaxMetric/MinMetric (the best weights are
        # ReplicaCheckpoints', by the checkpoint callback's monitor)
        worst = -math.inf if task.mode == "max" else math.inf
        self.best_metric = torch.full((n,), worst, device=device)
        self.loss_max = torch.full((n,), -math.inf, device=device)
        # (N, B, ...) inputs and targets -> (outputs, (N,) training data losses), one vmap
        # (a regularizer's loss transform, e.g. label smoothing, takes vmap's per-replica path)
        replica_losses = None if regularization.has_loss_transform else task.replica_losses
        self._forward_loss = stacked.forward_and_loss(self._training_loss, replica_losses)
        # the epoch's (N,) values, each replica's metrics.csv row: the module's, and the
        # instruments' (networks().publish)
        self.epoch_values: dict[str, torch.Tensor] = {}
        self.csv_only: set[str] = set()  # keys a single run puts in metrics.csv, not loggers
        # the test (trainer.test): the weights tested (None: the current ones), its (N,) values
        self.test_params: dict[str, torch.Tensor] | None = None
        self.test_buffers: dict[str, torch.Tensor] | None = None  # (with test_params)
        self.test_values: dict[str, torch.Tensor] = {}
        # the epoch's (steps, N) losses and gradient norms: what the divergence guard reads
        # (reglab.callbacks.per_replica); the guard asks for the norms when it bounds them
        self.epoch_step_losses: torch.Tensor | None = None
        self.epoch_step_grad_norms: torch.Tensor | None = None
        self.record_grad_norms = False

    def networks(self) -> ReplicaNetworks:
        """The replicas as instruments read networks (reglab.callbacks.networks)."""
        return ReplicaNetworks(self)

    # -- read and stopped per replica by callbacks (reglab.callbacks.per_replica) -------------
    @property
    def steps_done(self) -> int:
        return self.step

    def replica_values(self) -> dict[str, torch.Tensor]:
        return self.epoch_values

    def replicas_recording(self) -> torch.Tensor:
        return self.recording

    def stop_replicas(self, stop: torch.Tensor) -> None:
        self.freeze(stop.to(self.active.device) & self.active)
        if not bool(self.active.any()):  # (a decision after the module's epoch end)
            self.trainer.should_stop = True

    @property
    def epochs_done(self) -> int:
        return self.last_state["epochs_done"] if self.last_state is not None else 0

    # -- Lightning's parts --------------------------------------------------------------------
    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.groups)
        scheduler = self.reg.scheduler(optimizer, self.s.max_epochs)
        if scheduler is not None and self.hyper is not None and self.hyper.varies_lr:
            # lr_k = lr_0's schedule * lr_k / lr_0 holds for some schedules only (packing
            # keeps lr equal under a schedule): never a wrong learning rate
            raise ConfigError("stacked replicas with different lr cannot share an lr schedule")
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}

    def train_dataloader(self):
        return OneStep()

    def val_dataloader(self):
        return OneStep()

    def test_dataloader(self):
        return WholeSplit(self.data.splits.x_test, self.data.splits.y_test)

    def test_step(self, batch, batch_idx: int) -> dict | None:
        """Every replica on the test split, with `test_params`; the predictions for per-class
        instruments (on_test_batch_end receives them, (N, samples), as a single run's)."""
        values = self.evaluate("test", self.test_params, self.test_buffers, predictions=True)
        preds = values.pop("preds", None)
        self.test_values.update(values)
        return {"preds": preds} if preds is not None else None

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.trainer.optimizers[0]

    @property
    def scheduler(self):
        configs = self.trainer.lr_scheduler_configs
        return configs[0].scheduler if configs else None

    def on_train_start(self) -> None:
        # the optimizer's parameters in its state_dict order (its integer keys)
        self._order = [p for g in self.optimizer.param_groups for p in g["params"]]
        self._step_with = self._stepping()  # callbacks, plugins and profiler are set for the fit
        if self._resumed is not None:  # Lightning has restored weights and optimizer state
            stopped = ~self._resumed["active"].to(self.active.device)
            self.active = torch.ones_like(self.active)
            self._frozen, self._frozen_state = None, {}
            if bool(stopped.any()):
                self.freeze(stopped)
            self._resumed = None
        self.last_state = self.loop_state()  # interrupted before a checkpoint: this

    def on_train_epoch_start(self) -> None:
        self.epoch_values = {}
        self.recording = self.active.clone()

    def training_step(self, batch, batch_idx: int) -> None:
        self.epoch_values.update(self._train_epoch(self.current_epoch))

    def validation_step(self, batch, batch_idx: int) -> None:
        if not self.trainer.sanity_checking:
            self.epoch_values.update(self._validate(self.current_epoch))

    def on_train_epoch_end(self) -> None:
        epoch = self.current_epoch
        values = self.epoch_values
        if self.scheduler is not None:  # Lightning steps schedulers only when automatic
            self.scheduler.step()
        if (epoch + 1) % max(1, self.s.max_epochs // 10) == 0:
            self._log_progress(epoch, values)
        if not bool(self.active.any()):
            self.trainer.should_stop = True

    def checkpoint_run(self, path, epochs_done: int) -> None:
        """The stack's state after `epochs_done` epochs: written to `path` (Lightning's
        checkpoint, every callback's state in it; None: not written), and kept as what an
        interrupted or diverging replica goes back to (ReplicaCheckpoints calls this)."""
        state = self.loop_state(epochs_done)
        if path is not None:  # the file first: an interrupt while it is written leaves the
            # previous one, and last_state still matches it
            self._saving = state
            try:
                self.trainer.save_checkpoint(path)
            finally:
                self._saving = None
        self.last_state = state

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """The per-replica state beside Lightning's (weights, optimizer, loops)."""
        state = self._saving or self.loop_state(self.current_epoch + 1, lightning_parts=False)
        state = {k: v for k, v in state.items() if k not in LIGHTNING_PARTS}
        checkpoint[RUN_STATE] = {"seeds": self.seeds, "loop": state}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """`fit(ckpt_path=...)`: the per-replica state; Lightning restores the rest (the
        callbacks' states after this hook)."""
        _rows_to_the_writer(checkpoint)
        _best_to_the_checkpoints(checkpoint)
        self.load_loop_state(checkpoint[RUN_STATE]["loop"])
        self._resumed = checkpoint[RUN_STATE]["loop"]

    # -- per replica quantities --------------------------------------------------------------
    def _training_loss(
        self, outputs: torch.Tensor, targets: torch.Tensor, values: dict
    ) -> torch.Tensor:
        """One replica's training data loss, as a single run's (vmapped over replicas, with
        its own values of the keys that differ between them)."""
        reg = self.reg.one_replica(values)
        return reg.training_loss(self.task.loss(outputs, targets), outputs, targets)

    def penalty(self) -> torch.Tensor:
        """The explicit penalty of each replica, (N,), from the regularizers (as a single run)."""
        weights = [self.net.params[name] for name in self.weight_names]
        return self.reg.penalty(weights, replica_dims=1)

    def _constrain(self) -> None:
        """The regularizers' post-step constraints, on every replica's hidden weights."""
        self.reg.constrain([self.net.params[name] for name in self.hidden_names])

    @torch.no_grad()
    def weight_norm(self) -> torch.Tensor:
        # one norm kernel per tensor, then ||w|| = sqrt(sum of squared per-tensor norms)
        weights = [self.net.params[name] for name in self.weight_names]
        norms = torch.stack([torch.linalg.vector_norm(w.flatten(1), dim=1) for w in weights])
        return torch.linalg.vector_norm(norms, dim=0)

    @torch.no_grad()
    def grad_norm(self) -> torch.Tensor:
        grads = [p.grad for p in self.net.params.values() if p.grad is not None]
        return torch.sqrt(sum(g.float().pow(2).flatten(1).sum(1) for g in grads))

    def on_before_optimizer_step(self, optimizer) -> None:
        """Where Lightning clips a single run's gradients (after its precision plugin unscaled
        them): here each replica's, as its single run's would be; then a pack's per-replica
        weight decay, which a single run's optimizer applies inside its step (after clipping)."""
        self.clip_replica_gradients()
        if self.hyper is not None:
            self.hyper.before_step(self.optimizer)

    @torch.no_grad()
    def clip_replica_gradients(self) -> None:
        """trainer.gradient_clip_val per replica: `value` clamps elementwise (one clamp serves
        all); `norm` scales each replica's gradients by torch.nn.utils.clip_grad_norm_'s
        factor, max_norm / (its total norm + 1e-6) capped at 1, its total norm taken over its
        own slices of every parameter's gradient."""
        limit = self.s.gradient_clip_val
        if not limit or limit <= 0:  # Lightning's rule: 0 or None clips nothing
            return
        grads = [p.grad for p in self.net.params.values() if p.grad is not None]
        if not grads:
            return
        if self.s.gradient_clip_algorithm == "value":
            for g in grads:
                g.clamp_(min=-limit, max=limit)
            return
        # per tensor, per replica, as clip_grad_norm_ takes each tensor's norm first
        norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
        total = torch.linalg.vector_norm(norms, dim=0)  # (N,)
        factor = torch.clamp(limit / (total + 1e-6), max=1.0)
        for g in grads:
            g.mul_(replica_view(factor.to(g.dtype), g))

    # -- freezing ------------------------------------------------------------------------------
    def _slices(self, i: int) -> dict[str, torch.Tensor]:
        """The optimizer state of parameter i that is per replica (stacked like the parameter:
        momentum, Adam's moments); scalars such as Adam's step count are shared."""
        p = self._order[i]
        state = self.optimizer.state.get(p, {})
        return {k: t for k, t in state.items() if torch.is_tensor(t) and t.shape == p.shape}

    def _stacked(self) -> dict[str, torch.Tensor]:
        """Every stacked tensor a replica's state is made of: parameters and buffers (running
        statistics), by their names in the network."""
        return self.net.params | self.net.buffers

    @torch.no_grad()
    def freeze(self, stopped: torch.Tensor) -> None:
        """Stops the replicas in `stopped` (N,) bool with the weights, running statistics and
        optimizer state they have now."""
        if self._frozen is None:
            self._frozen = {k: v.detach().clone() for k, v in self._stacked().items()}
        for name, p in self._stacked().items():
            self._frozen[name] = torch.where(replica_view(stopped, p), p, self._frozen[name])
        for i in range(len(self._order)):
            held = self._frozen_state.setdefault(i, {})
            for key, t in self._slices(i).items():
                old = held.get(key, t)
                held[key] = torch.where(replica_view(stopped, t), t, old).clone()
        self.active &= ~stopped

    @torch.no_grad()
    def _hold_frozen(self) -> None:
        for name, p in self._stacked().items():
            p.copy_(torch.where(replica_view(self.active, p), p, self._frozen[name]))
        for i, held in self._frozen_state.items():
            for key, t in self._slices(i).items():
                if key in held:
                    t.copy_(torch.where(replica_view(self.active, t), t, held[key]))

    @torch.no_grad()
    def _restore(self, replicas: torch.Tensor, state: dict) -> None:
        """Replicas `replicas` (N,) bool go back to their weights, running statistics and
        optimizer state in `state` (a loop_state()); state the optimizer had not made yet is
        zero."""
        saved_tensors = state["params"] | state["buffers"]
        for name, p in self._stacked().items():
            saved = saved_tensors[name].to(p.device, p.dtype)
            p.copy_(torch.where(replica_view(replicas, p), saved, p))
        saved_state = state["optimizer"]["state"]
        for i in range(len(self._order)):
            for key, t in self._slices(i).items():
                old = saved_state.get(i, {}).get(key)
                old = torch.zeros_like(t) if old is None else old.to(t.device, t.dtype)
                t.copy_(torch.where(replica_view(replicas, t), old, t))

    # -- the state an epoch's end leaves ------------------------------------------------------
    def loop_state(self, epochs_done: int = 0, lightning_parts: bool = True) -> dict:
        """Everything training needs to go on after `epochs_done` epochs (copies, on the CPU);
        without `lightning_parts`, what Lightning's checkpoint does not hold already."""
        state = {
            "epochs_done": epochs_done if epochs_done else self.epochs_done,
            "step": self.step,
            "active": self.active,
            "best_metric": self.best_metric,
            "loss_max": self.loss_max,
        }
        if lightning_parts:
            state["params"] = self.net.params
            state["buffers"] = self.net.buffers
            state["optimizer"] = self.optimizer.state_dict()
            state["scheduler"] = self.scheduler.state_dict() if self.scheduler else None
        state = cpu_copy(state)
        state["outcomes"] = [dataclasses.asdict(o) for o in self.outcomes]
        return state

    @torch.no_grad()
    def load_loop_state(self, state: dict) -> None:
        """Goes back to `state` but for its Lightning parts (weights, optimizer, scheduler:
        Lightning restores those from its checkpoint, and an interrupted run's are written
        from `state` itself)."""
        device = self.active.device
        self.step = int(state["step"])
        for name in ("best_metric", "loss_max"):
            setattr(self, name, state[name].to(device).clone())
        self.outcomes = [ReplicaOutcome(**_plain(o)) for o in state["outcomes"]]
        self.active = state["active"].to(device).clone()
        self.last_state = state

    # -- training -----------------------------------------------------------------------------
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

    def _stepping(self) -> tuple:
        """(optimizer, backward, clear_grads): Lightning's (its optimizer wrapper and
        manual_backward: the precision plugin, the backward and step hooks, the profiler's step
        records), or the plain ones where those would do nothing (32-true, no callback or
        profiler that looks): they cost ~0.3 ms a step, what a step of the small models costs.
        The plain clear_grads is the optimizer's zero_grad(set_to_none=True) without its
        dynamo guard and profiler record (~8 us a step)."""
        trainer = self.trainer
        hooks = ("on_before_backward", "on_after_backward", "on_before_optimizer_step")
        looked_at = any(
            is_overridden(hook, callback, L.Callback)
            for callback in trainer.callbacks
            if not getattr(callback, "single_run_step_hooks", False)
            for hook in hooks
        )
        plain = (
            type(trainer.precision_plugin) is Precision
            and isinstance(trainer.profiler, PassThroughProfiler)
            and not looked_at
        )
        if plain:
            return self.optimizer, torch.Tensor.backward, self._clear_grads
        optimizer = self.optimizers()
        return optimizer, self.manual_backward, lambda: optimizer.zero_grad(set_to_none=True)

    def _clear_grads(self) -> None:
        for p in self._order:  # every parameter the optimizer steps
            p.grad = None

    def _train_epoch(self, epoch: int) -> dict[str, torch.Tensor]:
        # masks depend on (seed, epoch) only: the EpochSeeding callback seeds, as for a single run
        optimizer, backward, clear_grads = self._step_with
        n = self.net.num_replicas
        device = self.active.device
        zeros = torch.zeros(n, device=device)
        loss_sum, seen, correct, penalty_sum = zeros.clone(), 0, zeros.clone(), zeros.clone()
        # each step's loss (N,) and gradient norm (when the divergence guard bounds it), for
        # the guard and loss_max: read once the epoch ends, not with small kernels per step
        losses, norms = [], []
        steps, step = 0, self.step
        classification = self.task.name == "classification"
        for augment in self.augments or ():
            augment.start(device, epoch)  # reseeded per (seed, epoch), as a single run's
        for x, y in itertools.islice(self.batches.epoch(epoch), self.s.train_batches):
            batch = x.shape[1]
            if self.augments is None:
                x = self.prepare(x.flatten(0, 1)).view(n, batch, *x.shape[2:])
            else:  # each replica its single run's draws, from its own generator
                x = torch.stack([self.prepare(x[k], a) for k, a in enumerate(self.augments)])
            outputs, data_loss = self._forward_loss(x, y, self.reg.replica_values)
            data_loss = data_loss.to(torch.promote_types(data_loss.dtype, torch.float32))  # (N,)
            loss = data_loss
            if self.reg.has_penalty:
                penalty = self.penalty()
                loss = loss + penalty
                penalty_sum += penalty.detach()
            clear_grads()
            backward(loss.sum())
            losses.append(loss.detach())
            if self.record_grad_norms:
                norms.append(self.grad_norm())
            if optimizer is self.optimizer:  # the plain step: Lightning's wrapper calls it itself
                self.on_before_optimizer_step(optimizer)
            optimizer.step()
            if self.hyper is not None:
                self.hyper.after_step(self.optimizer)
            if self.reg.has_constraint:
                self._constrain()
            if self._frozen is not None:
                self._hold_frozen()
            with torch.no_grad():
                loss_sum += data_loss.detach() * batch
                seen += batch
                if classification:
                    correct += (outputs.argmax(-1) == y).sum(1)
            step += 1
            steps += 1
        self.step = step  # (nn.Module's __setattr__, once an epoch)
        losses = torch.stack(losses)  # (steps, N)
        # the running max of every step's loss (NaN stays NaN, as torch.maximum step by step)
        torch.maximum(self.loss_max, losses.float().amax(0), out=self.loss_max)
        # what the divergence guard reads once the epoch's step is done
        self.epoch_step_losses = losses
        self.epoch_step_grad_norms = torch.stack(norms) if norms else None
        values = {"train/loss": loss_sum / seen}
        if classification:
            values["train/acc"] = correct / seen
        values["train/penalty"] = penalty_sum / steps if self.reg.has_penalty else zeros
        values["train/w_norm"] = self.weight_norm()
        lr = float(self.optimizer.param_groups[0]["lr"])
        values["train/lr"] = (
            torch.full((n,), lr) if self.hyper is None else self.hyper.lr_of(0, lr, n)
        )
        values["train/loss_max"] = self.loss_max.clone()
        return values

    def diverge_replicas(self, hit: torch.Tensor, errors: list) -> None:
        """The divergence guard found replicas `hit` (N,) bool diverged this epoch (`errors`:
        each one's DivergenceError): each stops, as its single run stops, recorded alike."""
        hit = hit.to(self.active.device)
        for k in hit.nonzero().flatten().tolist():
            self.outcomes[k].status = contract.DIVERGED
            self.outcomes[k].divergence = errors[k].record
            self.outcomes[k].message = str(errors[k])
            seed = f" (seed {self.seeds[k]})" if self.seeds else ""
            log.error("Replica %d%s: %s", k, seed, errors[k])
        self.recording &= ~hit  # a single run stops mid-epoch: no row for the epoch
        # back to their last checkpoint (finite: what a single run's last.ckpt holds), not NaN
        self._restore(hit, self.last_state)
        for k in hit.nonzero().flatten().tolist():
            self.outcomes[k].weights_epoch = self.last_state["epochs_done"]
        self.freeze(hit)

    @torch.no_grad()
    def _validate(self, epoch: int) -> dict[str, torch.Tensor]:
        # keyed as the single run keys its per-epoch evaluation (test/* under protocol=d2l)
        stage = self.task.epoch_stage
        values = {f"{stage}/{k.split('/', 1)[1]}": v for k, v in self.evaluate("val").items()}
        monitor = values[self.task.monitor]
        pick = torch.maximum if self.task.mode == "max" else torch.minimum
        # MaxMetric/MinMetric ignore NaN (torchmetrics' default nan strategy warns and skips)
        finite = torch.isfinite(monitor)
        updated = torch.where(finite, pick(self.best_metric, monitor), self.best_metric)
        self.best_metric = torch.where(self.active, updated, self.best_metric)
        values[f"{self.task.monitor}_best"] = self.best_metric.clone()
        return values


def _rows_to_the_writer(checkpoint: dict) -> None:
    """A checkpoint written before the metrics rows were EpochMetricsWriter's state (the
    replicas' loop state held them, as `rows_json` per replica): the rows become the writer's
    state, so that a run resumed across the upgrade keeps its metrics.csv rows."""
    outcomes = checkpoint[RUN_STATE]["loop"]["outcomes"]
    if not outcomes or "rows_json" not in outcomes[0]:
        return
    callbacks = checkpoint.setdefault("callbacks", {})
    if any(isinstance(state, dict) and "rows_json" in state for state in callbacks.values()):
        return
    texts = [outcome.pop("rows_json") for outcome in outcomes]
    callbacks[EpochMetricsWriter.__qualname__] = {"rows_json": texts}  # (its columns: theirs)


def _best_to_the_checkpoints(checkpoint: dict) -> None:
    """A checkpoint written before the best weights were ReplicaCheckpoints' state (the
    replicas' loop state held them): they become its state, so that a run resumed across the
    upgrade keeps its best.ckpt."""
    loop = checkpoint[RUN_STATE]["loop"]
    if "best_value" not in loop:
        return
    callbacks = checkpoint.setdefault("callbacks", {})
    if any(isinstance(state, dict) and "best_epochs" in state for state in callbacks.values()):
        return
    callbacks[ReplicaCheckpoints.__qualname__] = {
        "best_value": loop.pop("best_value"),
        "best_epochs": [outcome.pop("best_epoch", None) for outcome in loop["outcomes"]],
        "best_params": loop.pop("best_params", None) or {},
        "best_buffers": loop.pop("best_buffers", None) or {},
    }


def _plain(outcome: dict) -> dict:
    """A ReplicaOutcome's fields as a loaded state holds them."""
    names = {f.name for f in dataclasses.fields(ReplicaOutcome)}
    return {k: v for k, v in outcome.items() if k in names}
