"""Divergence guard: stop a run whose loss is NaN/infinite or whose gradients explode.

The d2l dropout exercise saw gradients explode without dropout at lr 0.5. The guard stops the
run with a message naming the epoch, step and value; checkpoints and metrics written so far
stay on disk, and metrics.json records the divergence (status "diverged").
"""

import math

import lightning as L
import torch


class DivergenceError(RuntimeError):
    def __init__(self, kind: str, epoch: int, step: int, value: float, bound: float | None = None):
        self.record = {"kind": kind, "epoch": epoch, "step": step, "value": value}
        what = {"loss": "training loss is not finite", "grad_norm": "gradient norm exploded"}[kind]
        limit = f" (bound {bound:g})" if bound is not None else ""
        super().__init__(f"Diverged: {what}: {value:g}{limit} at epoch {epoch}, step {step}")


class DivergenceGuard(L.Callback):
    def __init__(self, max_grad_norm: float | None = None, check_every_n_steps: int = 1):
        if max_grad_norm is not None and max_grad_norm <= 0:
            raise ValueError(f"max_grad_norm must be > 0, got {max_grad_norm}")
        self.max_grad_norm = max_grad_norm
        self.check_every_n_steps = max(1, check_every_n_steps)

    def _where(self, trainer) -> tuple[int, int]:
        return trainer.current_epoch + 1, trainer.global_step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step % self.check_every_n_steps:
            return
        loss = getattr(pl_module, "last_loss", None)
        if loss is not None and not torch.isfinite(loss):
            raise DivergenceError("loss", *self._where(trainer), float(loss))
        if self.max_grad_norm is not None:
            grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
            norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
            if not math.isfinite(norm) or norm > self.max_grad_norm:
                raise DivergenceError("grad_norm", *self._where(trainer), norm, self.max_grad_norm)
