"""Weight norms per layer each epoch, and the gradient norm every few steps."""

import lightning as L
import torch

from reglab.callbacks.networks import networks
from reglab.lit.publish import publish
from reglab.models.roles import key, weight_layers_by_role


def weight_layers(net: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The layers with a weight matrix/kernel, by role key (`hidden_1`, ..., `output`): the
    same name means the same layer in every job, whatever dropout or norms sit between."""
    return {key(role): m for role, m in weight_layers_by_role(net).items()}


class WeightNorms(L.Callback):
    """Logs weights/norm/<role> (e.g. weights/norm/hidden_1) = ||W||_2 (Frobenius) of each
    layer at each epoch's end (per replica under `seeds=N`: reglab.callbacks.networks)."""

    @torch.no_grad()
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        nets = networks(trainer, pl_module)
        params = nets.parameters()
        values = {
            f"weights/norm/{role}": torch.linalg.vector_norm(params[name].flatten(1), dim=1)
            for role, name in nets.weight_names().items()
        }
        nets.publish(values)


class GradNorm(L.Callback):
    """Logs train/grad_norm (L2 norm of all gradients) every `every_n_steps` optimizer steps."""

    def __init__(self, every_n_steps: int = 50):
        self.every_n_steps = max(1, every_n_steps)

    @torch.no_grad()
    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step % self.every_n_steps:
            return
        grads = [p.grad.norm() for p in pl_module.parameters() if p.grad is not None]
        if grads:
            norm = torch.linalg.vector_norm(torch.stack(grads))
            # a step-level series: to the loggers at this step, not into the epoch's row
            publish(
                trainer, {"train/grad_norm": norm}, step=trainer.global_step, callback_metrics=False
            )
