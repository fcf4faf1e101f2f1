"""N networks, initialised as N single runs would be, stacked along a leading replica dimension.

Replica k's initial weights must equal those of a single run with `seed=k`. A single run seeds
every generator (`L.seed_everything(seed)`) and builds its network before anything else draws
from torch's global generator (the data sets draw from their own seeded generators), so
seeding the same way and calling the same builder gives the same weights.
"""

import copy
from collections.abc import Callable, Sequence

import lightning as L
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from reglab.config.errors import ConfigError


class StackedNet:
    """The stacked parameters and buffers of N copies of one architecture, and their forward.

    `params[name]` has shape (N, *shape of the parameter); replica k's own tensors are
    `params[name][k]`. The forward is `vmap(functional_call)` over a parameter-free copy of
    the module (on the meta device), so any `nn.Module` whose forward is functional works.
    """

    def __init__(self, nets: Sequence[nn.Module], device: torch.device):
        for net in nets:
            net.to(device)
        params, buffers = stack_module_state(list(nets))
        # the parameters of the LightningModule that holds them (reglab.replicas.module)
        self.params = {k: nn.Parameter(v.detach().clone()) for k, v in params.items()}
        self.buffers = {k: v.detach().clone() for k, v in buffers.items()}
        self.num_replicas = len(nets)
        self.template = copy.deepcopy(nets[0]).to("meta")  # the architecture, without weights
        self.template.train()
        self._training = True  # the template's mode, switched only by _mode()
        # functional_call unties tied weights by walking the module at every call (~0.1 ms,
        # what a tiny model's forward costs): only where the architecture ties any
        named = self.template.named_parameters(remove_duplicate=False)
        buffers_named = self.template.named_buffers(remove_duplicate=False)
        self._ties = len(list(named)) + len(list(buffers_named)) > len(params) + len(buffers)
        self._train = vmap(self._call, in_dims=(0, 0, 0), randomness="different")
        # evaluation: every replica sees the same (unbatched) inputs; no randomness in eval mode
        self._eval = vmap(self._call, in_dims=(0, 0, None), randomness="error")

    def _call(self, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.template, (params, buffers), (x,), tie_weights=self._ties)

    def _mode(self, training: bool) -> None:
        """train() / eval() on the template when the mode changes (each walks every module)."""
        if self._training != training:
            self.template.train(training)
            self._training = training

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Float inputs in the parameters' dtype: a precision plugin that casts the module
        (`64-true`, `bf16-true`) casts the stacked tensors, not the data set."""
        dtype = next(iter(self.params.values())).dtype
        return x.to(dtype) if x.is_floating_point() and x.dtype != dtype else x

    def forward_train(self, x: torch.Tensor) -> torch.Tensor:
        """(N, B, ...) inputs, one batch per replica -> (N, B, outputs); dropout/noise on, with
        masks drawn independently per replica."""
        self._mode(training=True)
        return self._train(self.params, self.buffers, self._inputs(x))

    def forward_and_loss(
        self, loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    ) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """forward_train and a per-replica `loss(outputs, targets)` in one vmap (a vmap call
        costs about what a tiny model's step does): (N, B, ...) inputs and targets ->
        ((N, B, outputs), (N,) losses), the same numbers as the two apart."""

        def call(params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> tuple:
            outputs = self._call(params, buffers, x)
            return outputs, loss(outputs, y)

        fused = vmap(call, randomness="different")

        def forward(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            self._mode(training=True)
            return fused(self.params, self.buffers, self._inputs(x), y)

        return forward

    @torch.no_grad()
    def forward_eval(self, x: torch.Tensor, params: dict | None = None) -> torch.Tensor:
        """(B, ...) inputs shared by all replicas -> (N, B, outputs), in eval mode."""
        self._mode(training=False)
        params = params if params is not None else self.params
        return self._eval(params, self.buffers, self._inputs(x))

    def replica_state(self, k: int, params: dict | None = None) -> dict[str, torch.Tensor]:
        """Replica k's state dict, as `net.state_dict()` of a single run would hold it."""
        params = params if params is not None else self.params
        state = {name: t[k].detach().clone().cpu() for name, t in params.items()}
        state.update({name: t[k].detach().clone().cpu() for name, t in self.buffers.items()})
        return state


def build_replicas(build_net: Callable[[], nn.Module], seeds: Sequence[int]) -> list[nn.Module]:
    """One network per seed, each built right after seeding as a single run seeds."""
    nets = []
    for seed in seeds:
        L.seed_everything(seed, workers=True, verbose=False)
        nets.append(build_net())
    return nets


def check_functional(stacked: StackedNet, sample: torch.Tensor) -> None:
    """Runs the stacked forward once, in training and in evaluation mode: a module whose
    forward is not functional (in-place updates of its own state, Python-side randomness,
    data-dependent control flow) fails here, with a message that says so, not mid-training."""
    n = stacked.num_replicas
    try:
        with torch.no_grad():
            stacked.forward_train(sample.unsqueeze(0).expand(n, *sample.shape))
            stacked.forward_eval(sample)
    except Exception as exc:
        name = type(stacked.template).__name__
        raise ConfigError(
            f"seeds: model {name} cannot be trained as stacked replicas (torch.func.vmap over "
            f"its forward failed: {type(exc).__name__}: {str(exc).splitlines()[0]}). Its "
            "forward must be functional: no in-place updates of its own tensors, no .item() or "
            "data-dependent Python control flow. Use seeds=1 (a multirun over seed=) instead"
        ) from exc
