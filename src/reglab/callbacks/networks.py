"""What an instrument reads of a run's networks, with a leading replica dimension.

An instrument is written once for a single run and for `seeds=N`: it asks `networks(trainer,
pl_module)` for the run's networks and computes its quantity from (N, ...) tensors (N=1 for a
single run), then publishes (N,) values. A single run's values go where Lightning puts logged
metrics (reglab.lit.publish: the loggers and metrics.csv); replica k's go to replica k's
metrics.csv rows and logger run (reglab.replicas.networks, which implements the same methods
over the stacked replicas).
"""

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils._pytree import tree_map

from reglab.lit.publish import publish
from reglab.models.roles import key, weight_layers_by_role

# fn(net, forward, x): `net` the architecture (for hooks on its layers), `forward(x)` one
# network's outputs; returns tensors
PerNetwork = Callable[[nn.Module, Callable[[torch.Tensor], torch.Tensor], torch.Tensor], object]


def weight_parameter_names(net: nn.Module) -> dict[str, str]:
    """{role key: name of the layer's weight in `net.named_parameters()`} (`hidden_1`, ...,
    `output`): the same key means the same layer in every job."""
    names = {module: name for name, module in net.named_modules()}
    return {
        key(role): f"{names[layer]}.weight" if names[layer] else "weight"
        for role, layer in weight_layers_by_role(net).items()
    }


class SingleNetwork:
    """A single run's network, as one replica."""

    num_replicas = 1

    def __init__(self, trainer, pl_module):
        self.trainer = trainer
        self.net: nn.Module = getattr(pl_module, "net", pl_module)
        self.task = getattr(pl_module, "task", None)
        self.data = trainer.datamodule  # reglab's in-memory data (None: a user's own)

    @property
    def active(self) -> torch.Tensor:
        """(N,) bool: the replicas whose epoch is recorded (a single run's always is)."""
        return torch.ones(1, dtype=torch.bool)

    @property
    def diverged(self) -> torch.Tensor:
        """(N,) bool: the replicas that diverged (a single run that did has stopped with its
        error: no callback reads it after that)."""
        return torch.zeros(1, dtype=torch.bool)

    @property
    def architecture(self) -> nn.Module:
        """A network of the run's architecture (for its layers' names and roles)."""
        return self.net

    def parameters(self) -> dict[str, torch.Tensor]:
        return {name: p.unsqueeze(0) for name, p in self.net.named_parameters()}

    def gradients(self) -> dict[str, torch.Tensor]:
        return {
            name: p.grad.unsqueeze(0)
            for name, p in self.net.named_parameters()
            if p.grad is not None
        }

    def weight_names(self) -> dict[str, str]:
        return weight_parameter_names(self.net)

    def apply(self, fn: PerNetwork, x: torch.Tensor, train: bool | None = None):
        """fn(net, forward, x) on the network, its tensors with a leading replica dimension;
        `train`: the mode to run in (None: the network's own)."""
        was_training = self.net.training
        if train is not None:
            self.net.train(train)
        try:
            result = fn(self.net, self.net, x)
        finally:
            self.net.train(was_training)
        return tree_map(lambda t: t.unsqueeze(0) if torch.is_tensor(t) else t, result)

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """(N, B, outputs) for inputs (B, ...), in evaluation mode."""
        return self.apply(lambda net, forward, x: forward(x), x, train=False)

    def publish(self, values: dict[str, torch.Tensor], loggers: bool = True) -> None:
        """(N,) epoch values into the epoch's metrics.csv row and, with `loggers`, the
        loggers."""
        values = {k: v[0] for k, v in values.items()}
        if loggers:
            publish(self.trainer, values)
        elif not self.trainer.sanity_checking:
            self.trainer.callback_metrics.update(
                {k: torch.as_tensor(v).detach().float().cpu() for k, v in values.items()}
            )

    def folders(self, output_dir: Path) -> list[Path]:
        """Each replica's run folder, given the run's."""
        return [Path(output_dir)]


def networks(trainer, pl_module):
    """The run's networks as instruments read them: the replicas' module gives its own view
    (reglab.replicas.networks), any other module is one network."""
    own = getattr(pl_module, "networks", None)
    return own() if callable(own) else SingleNetwork(trainer, pl_module)


def global_norms(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N,): each replica's L2 norm over all the (N, ...) tensors together."""
    norms = [t.detach().flatten(1).norm(dim=1) for t in tensors.values()]
    return torch.linalg.vector_norm(torch.stack(norms), dim=0)
