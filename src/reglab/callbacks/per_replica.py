"""What a callback reads and does per replica: written once, it serves a single run (one
replica) and a stack of N (`seeds=N`, a sweep's pack: reglab.replicas.module).

A module that trains several replicas (a stack: `is_stack`) has:
- `replica_values()`: the epoch's values so far, each an (N,) tensor (one per replica);
- `replicas_recording()`: (N,) bool, the replicas whose epoch counts (a metrics row): those
  training when it began and that did not diverge in it;
- `stop_replicas(stop)`: stop the replicas of the (N,) mask (the others go on);
- `diverge_replicas(hit, errors)`: the replicas of the mask diverged (each its
  DivergenceError); with `epoch_step_losses` / `epoch_step_grad_norms` ((steps, N), the
  epoch's) and `record_grad_norms` (set by the guard), what the divergence guard reads;
- `steps_done`: the optimizer steps taken so far (Lightning's step is a whole epoch).
Any other LightningModule (RegLabModule, or one a user brings) is one replica: its values are
Lightning's `callback_metrics`, and stopping it is `trainer.should_stop`.
"""

import torch


def is_stack(pl_module) -> bool:
    """`pl_module` trains several replicas (reads and stops them per replica)."""
    return hasattr(pl_module, "replica_values")


def values_per_replica(trainer, pl_module) -> dict[str, torch.Tensor]:
    """{key: (N,) tensor} of the epoch's logged values."""
    if is_stack(pl_module):
        return pl_module.replica_values()
    return {key: value.reshape(1) for key, value in trainer.callback_metrics.items()}


def steps_done(trainer, pl_module) -> int:
    """The optimizer steps taken so far (a stack's Lightning step is a whole epoch of them)."""
    return int(getattr(pl_module, "steps_done", trainer.global_step))


def recording_mask(pl_module) -> torch.Tensor:
    """(N,) bool: the replicas that get this epoch's metrics row."""
    if hasattr(pl_module, "replicas_recording"):
        return pl_module.replicas_recording()
    return torch.ones(1, dtype=torch.bool)


def stop_replicas(trainer, pl_module, mask: torch.Tensor) -> None:
    """Stops the replicas of `mask` ((N,) bool). One replica: the run stops, as Lightning's
    EarlyStopping stops it (under DDP, when any process decides so)."""
    if hasattr(pl_module, "stop_replicas"):
        pl_module.stop_replicas(mask)
        return
    decision = trainer.strategy.reduce_boolean_decision(bool(mask.any()), all=False)
    trainer.should_stop = trainer.should_stop or decision


def diverge_replicas(pl_module, hit: torch.Tensor, errors: list) -> None:
    """The replicas of `hit` diverged (`errors`: each one's DivergenceError, None for the
    others). One replica: the run stops with its error."""
    if hasattr(pl_module, "diverge_replicas"):
        pl_module.diverge_replicas(hit, errors)
        return
    raise next(error for error in errors if error is not None)


def replica_view(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, ..., 1), broadcastable against a stacked tensor `like` (N, ...)."""
    return mask.view(-1, *([1] * (like.dim() - 1)))


def cpu_copy(value):
    """A copy of nested dicts / lists / tuples with every tensor cloned to the CPU: a
    stack's state as of a checkpoint, untouched by the steps after it."""
    if torch.is_tensor(value):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: cpu_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(cpu_copy(v) for v in value)
    return value
