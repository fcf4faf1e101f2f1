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

from reglab.replicas.checks import NotStackable
from reglab.replicas.plain_stack import plain_forward, plain_layers


class StackedBuffers(nn.Module):
    """The stacked buffers (BatchNorm's running statistics) as buffers of a module that the
    replicas' LightningModule holds: Lightning moves, casts (a precision plugin) and
    checkpoints them with the parameters. Named by position: buffer names hold dots."""

    def __init__(self, buffers: dict[str, torch.Tensor], persistent: set[str]):
        super().__init__()
        self.names = list(buffers)
        for i, (name, tensor) in enumerate(buffers.items()):
            self.register_buffer(str(i), tensor, persistent=name in persistent)

    def by_name(self) -> dict[str, torch.Tensor]:
        """{buffer name in the network: its stacked tensor}, the tensors held now (moving or
        casting the module replaces them)."""
        return {name: getattr(self, str(i)) for i, name in enumerate(self.names)}


class StackedNet:
    """The stacked parameters and buffers of N copies of one architecture, and their forward.

    `params[name]` has shape (N, *shape of the parameter); replica k's own tensors are
    `params[name][k]`; so are `buffers[name]`'s. The forward is `vmap(functional_call)` over
    a parameter-free copy of the module (on the meta device), so any `nn.Module` whose
    forward is functional works. Buffers are batched too (in_dims 0) in training and in
    evaluation: BatchNorm's in-place update of its running statistics in training writes
    each replica's own slice (torch.func's batching rules for batch norm; replica k's
    statistics equal its single run's, tests/test_replicas.py), and evaluation reads them.
    """

    def __init__(self, nets: Sequence[nn.Module], device: torch.device):
        # attributes that differ between the nets (a pack's dropout rates): one per replica
        self.replica_values = _attributes_as_buffers(nets)
        for net in nets:
            net.to(device)
        params, buffers = stack_module_state(list(nets))
        # the parameters of the LightningModule that holds them (reglab.replicas.module)
        self.params = {k: nn.Parameter(v.detach().clone()) for k, v in params.items()}
        # ... and its buffers: persistent as in the network (what its state_dict holds)
        self.persistent = set(nets[0].state_dict()) - set(params)
        self.buffer_module = StackedBuffers(
            {k: v.detach().clone() for k, v in buffers.items()}, self.persistent
        )
        self.num_replicas = len(nets)
        # the architecture: functional_call replaces its tensors. A copy as it is, not moved to
        # the meta device: moving a module converts each use of a tied weight on its own,
        # untying it (one use would then read an empty meta tensor)
        self.template = copy.deepcopy(nets[0])
        self.template.train()
        self._training = True  # the template's mode, switched only by _mode()
        # functional_call unties tied weights by walking the module at every call (~0.1 ms,
        # what a tiny model's forward costs): only where the architecture ties any
        named = self.template.named_parameters(remove_duplicate=False)
        buffers_named = self.template.named_buffers(remove_duplicate=False)
        self._ties = len(list(named)) + len(list(buffers_named)) > len(params) + len(buffers)
        # a plain Linear/activation stack trains without vmap (reglab.replicas.plain_stack)
        self._plain = None if self._ties else plain_layers(self.template)
        self._train = vmap(self._call, in_dims=(0, 0, 0), randomness="different")
        # evaluation: every replica sees the same (unbatched) inputs; no randomness in eval mode
        self._eval = vmap(self._call, in_dims=(0, 0, None), randomness="error")
        self._compiled = False  # hardware.compile: compile()

    def compile(self) -> None:
        """`hardware.compile`: torch.compile the stacked forwards (vmap over the network's
        forward, its backward with it), as a single run compiles its network; the loss, the
        optimizer and Lightning's loop stay eager. After `check_functional`: its trial
        forward runs eagerly, so a module vmap cannot run is refused in one line, and no
        graph is compiled for it alone."""
        train, evaluate = self._train, self._eval

        # one function each: dynamo keeps its compiled graphs per code object, and the two
        # vmaps share theirs (their guards would then fail in turn, recompiling both)
        def train_forward(params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
            return train(params, buffers, x)

        def eval_forward(params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
            return evaluate(params, buffers, x)

        self._train = torch.compile(train_forward)
        self._eval = torch.compile(eval_forward)
        self._compiled = True

    @property
    def buffers(self) -> dict[str, torch.Tensor]:
        return self.buffer_module.by_name()

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
        masks drawn independently per replica; running statistics updated per replica."""
        self._mode(training=True)
        return self._train(self.params, self.buffers, self._inputs(x))

    def forward_and_loss(
        self,
        loss: Callable[[torch.Tensor, torch.Tensor, dict], torch.Tensor],
        replica_losses: Callable[[torch.Tensor, torch.Tensor], torch.Tensor | None] | None = None,
    ) -> Callable[[torch.Tensor, torch.Tensor, dict], tuple[torch.Tensor, torch.Tensor]]:
        """forward_train and a per-replica `loss(outputs, targets, values)` in one vmap (a vmap
        call costs about what a tiny model's step does): (N, B, ...) inputs and targets, and
        `values` ({key: (N,) tensor}, each replica its own: a pack's per-replica settings) ->
        ((N, B, outputs), (N,) losses), the same numbers as the two apart. Compiled
        (`compile`): the compiled forward, then the loss in a vmap of its own, eager; so for
        a plain Linear/activation stack (`plain_stack`, outside autocast: its Function does
        not cast), with its forward without vmap. `replica_losses(outputs, targets)`: the
        (N,) losses computed without vmap, the same bits (Task.replica_losses), used after a
        forward without vmap where it gives them (not None)."""

        def call(params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor, values: dict):
            outputs = self._call(params, buffers, x)
            return outputs, loss(outputs, y, values)

        fused = vmap(call, randomness="different")
        vmapped_loss = vmap(loss)

        def loss_alone(outputs: torch.Tensor, y: torch.Tensor, values: dict) -> torch.Tensor:
            losses = replica_losses(outputs, y) if replica_losses is not None else None
            return vmapped_loss(outputs, y, values) if losses is None else losses

        def forward(x: torch.Tensor, y: torch.Tensor, values: dict) -> tuple:
            self._mode(training=True)
            x = self._inputs(x)
            if self._compiled:
                outputs = self._train(self.params, self.buffers, x)
                return outputs, loss_alone(outputs, y, values)
            if self._plain is not None and not torch.is_autocast_enabled(x.device.type):
                outputs = plain_forward(self._plain, self.params, x, self.buffers)
                return outputs, loss_alone(outputs, y, values)
            return fused(self.params, self.buffers, x, y, values)

        return forward

    @torch.no_grad()
    def forward_eval(
        self, x: torch.Tensor, params: dict | None = None, buffers: dict | None = None
    ) -> torch.Tensor:
        """(B, ...) inputs shared by all replicas -> (N, B, outputs), in eval mode, with
        `params` and `buffers` (stacked; None: the current ones)."""
        self._mode(training=False)
        params = params if params is not None else self.params
        buffers = buffers if buffers is not None else self.buffers
        # plain tensors, the current weights (parameters) as the best ones (copies): under
        # hardware.compile one graph serves both
        params = {k: v.detach() for k, v in params.items()}
        return self._eval(params, buffers, self._inputs(x))

    def replica_state(
        self, k: int, params: dict | None = None, buffers: dict | None = None
    ) -> dict[str, torch.Tensor]:
        """Replica k's state dict, as `net.state_dict()` of a single run would hold it (its
        parameters and persistent buffers, from `params` and `buffers`; None: the current)."""
        params = params if params is not None else self.params
        buffers = buffers if buffers is not None else self.buffers
        state = {name: t[k].detach().clone().cpu() for name, t in params.items()}
        kept = {name: t for name, t in buffers.items() if name in self.persistent}
        state.update({name: t[k].detach().clone().cpu() for name, t in kept.items()})
        return state


def _attributes_as_buffers(nets: Sequence[nn.Module]) -> set[str]:
    """Module attributes listed in a module's `replica_attributes` (a rate, a std) that differ
    between the nets become non-persistent buffers, so `stack_module_state` stacks them and
    `functional_call` hands each replica its own value (a 0-d tensor) inside `vmap`. Returns
    their names (not in a replica's checkpoint: a single run keeps them as attributes)."""
    names = set()
    for path, module in nets[0].named_modules():
        for attribute in getattr(type(module), "replica_attributes", ()):
            values = [getattr(net.get_submodule(path), attribute) for net in nets]
            if all(v == values[0] for v in values):
                continue
            for net, value in zip(nets, values, strict=True):
                held = net.get_submodule(path)
                delattr(held, attribute)
                held.register_buffer(attribute, torch.tensor(float(value)), persistent=False)
            names.add(f"{path}.{attribute}" if path else attribute)
    return names


def build_replicas(build_net: Callable[[int], nn.Module], seeds: Sequence[int]) -> list[nn.Module]:
    """One network per seed, each built right after seeding as a single run seeds;
    `build_net(k)` builds replica k's."""
    nets = []
    for k, seed in enumerate(seeds):
        L.seed_everything(seed, workers=True, verbose=False)
        nets.append(build_net(k))
    return nets


def check_functional(stacked: StackedNet, sample: torch.Tensor) -> None:
    """Runs the stacked forward once, in training and in evaluation mode: a module whose
    forward is not functional (Python-side randomness, `.item()` or data-dependent control
    flow, in-place updates of its parameters) fails here, before training, with a message
    that says so (NotStackable: its seeds train one after another instead). In-place updates
    of its buffers (BatchNorm's running statistics) work."""
    n = stacked.num_replicas
    # the trial forward in training mode updates running statistics: put them back after it
    before = {name: t.clone() for name, t in stacked.buffers.items()}
    try:
        with torch.no_grad():
            stacked.forward_train(sample.unsqueeze(0).expand(n, *sample.shape))
            stacked.forward_eval(sample)
            for name, t in stacked.buffers.items():
                t.copy_(before[name])
    except Exception as exc:
        name = type(stacked.template).__name__
        raise NotStackable(
            f"model {name} cannot be trained as stacked replicas (torch.func.vmap over its "
            f"forward failed: {type(exc).__name__}: {str(exc).splitlines()[0]}; a stacked forward "
            "must be functional: no .item() or data-dependent Python control flow (BatchNorm's "
            "momentum=None reads its batch count with one: give it a momentum), no in-place "
            "updates of its parameters)"
        ) from exc
