"""The training forward of a plain Linear/activation stack, on stacked tensors, without vmap.

`vmap(functional_call)` over `Flatten -> Linear -> act -> ... -> Linear` computes each Linear
as `bmm(h, W.transpose(1, 2)) + b`, and autograd's bmm backward hands the weight gradient
back in that transposed layout: AccumulateGrad then copies it into the parameter's layout, a
transposing copy of every stacked weight each step (for toy1d's 200x200 layers it costs what
the matmuls do). Here each Linear is an autograd Function with the same forward and a
backward that computes the weight gradient in the parameter's layout, `bmm(g^T, h)`: the
same products summed in the same order, without the copy, and without vmap's and
functional_call's per-call cost. Outputs and losses are vmap's bit for bit; so are the
gradients of toy1d's and poly_fit's networks; for other shapes BLAS may pick another kernel
for the swapped operands, and a weight gradient then differs in its last bit (within 1e-6;
tests/test_replicas.py compares the two paths).

Only modules whose forward is exactly that are taken (`plain_layers`): an `nn.Sequential`, or
reglab's `MLP` / `Linear` models (their forward is `self.layers(x)`), made of a leading
`Flatten`, `Linear`s, ReLU / Tanh / Sigmoid / Identity, and reglab's `Dropout` (not
`impl=torch`), `GaussianNoise` and `DropConnectLinear` (one rate or std, or each replica its
own in a pack), with no hooks. Their draws are vmap's: one (N, B, features) draw of uniforms
or normals (DropConnect: one (N, out, in) draw a step), what vmap's randomness="different"
draws, so outputs are equal bit for bit. Anything else (normalisation, a model of one's own)
takes the generic vmap path.
"""

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.modules import module as nn_module

from reglab.models.linear import Linear as LinearModel
from reglab.models.mlp import MLP
from reglab.regularizers.dropconnect import DropConnectLinear, masked_weight
from reglab.regularizers.dropout import Dropout, drop, is_on
from reglab.regularizers.noise import GaussianNoise, add_noise

# models whose forward is `self.layers(x)`, an nn.Sequential
SEQUENTIAL_FORWARD = (MLP, LinearModel)
ACTIVATIONS: dict[type[nn.Module], Callable[[torch.Tensor], torch.Tensor]] = {
    nn.ReLU: torch.relu,
    nn.Tanh: torch.tanh,
    nn.Sigmoid: torch.sigmoid,
}
# one layer: ("linear", weight name, bias name or None, DropConnect rate or None),
# ("act", function), ("dropout", rate, impl) or ("noise", std); a rate or std is a number, or
# the name of the stacked buffer holding each replica's
Layer = tuple


# products of at least this many multiply-adds a replica split as `stacked_matmul` says; below
# it one bmm call's lower overhead wins (measured on 2 threads at the d2l MLP's shapes: 3
# replicas' 256x784x256 products 7.4 -> 5.3 ms split, 256x256x256 2.0 -> 1.9, 256x256x10 lose)
SPLIT_MACS = 1 << 22


def stacked_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`torch.bmm(a, b)`. On CPU bmm hands each thread whole products: 3 replicas on 2
    threads take two rounds, the second with a thread idle (the d2l table's 3-job packs ran at
    140 GFLOP/s against 190 for 2 or 6). So when the replicas do not divide among the threads,
    the N % threads left over are multiplied one at a time, each on every thread. Each product
    is bmm's own bit for bit (tests/test_replicas.py)."""
    count, rows, inner = a.shape
    if rows * inner * b.shape[2] < SPLIT_MACS:  # first: toy1d's and poly's every product
        return torch.bmm(a, b)
    # one bmm in a compiled graph (the compiler plans its own kernels) and where autograd
    # records (a double backward): out= has no derivative
    recorded = torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)
    split = a.device.type == "cpu" and not torch.compiler.is_compiling() and not recorded
    rest = count % torch.get_num_threads() if split else 0
    if rest == 0:
        return torch.bmm(a, b)
    out = a.new_empty(count, rows, b.shape[2])
    whole = count - rest
    if whole:
        torch.bmm(a[:whole], b[:whole], out=out[:whole])
    for k in range(whole, count):
        torch.mm(a[k], b[k], out=out[k])
    return out


class StackedLinearFunction(torch.autograd.Function):
    """(N, B, in) inputs, (N, out, in) weights, (N, out) bias or None -> (N, B, out)."""

    # forward(ctx, ...), not setup_context: Function.apply binds the latter's arguments
    # through inspect.signature at every call (~70 us, a quarter of a small layer's step)
    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        ctx.save_for_backward(h, weight)
        out = stacked_matmul(h, weight.transpose(1, 2))  # what vmap makes of F.linear
        return out + bias.unsqueeze(1) if bias is not None else out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, weight = ctx.saved_tensors
        needs_h, needs_weight, needs_bias = ctx.needs_input_grad
        grad_h = stacked_matmul(grad, weight) if needs_h else None
        # (N, out, in), the weight's own layout: AccumulateGrad keeps it without a copy
        grad_weight = stacked_matmul(grad.transpose(1, 2), h) if needs_weight else None
        grad_bias = grad.sum(1) if needs_bias else None
        return grad_h, grad_weight, grad_bias


# torch keeps hooks in these private dicts (no public API lists them): a name torch renames
# reads as "hooked", so an upgrade falls back to the generic path, never skips a hook
HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def _hooked(module: nn.Module) -> bool:
    return any(getattr(module, name, True) for name in HOOK_DICTS)


def _global_hooks() -> bool:
    return any(getattr(nn_module, f"_global{name}", True) for name in HOOK_DICTS)


def plain_layers(template: nn.Module) -> list[Layer] | None:
    """The layers of `template` if it is a plain Linear/activation stack (see the module's
    docstring), by parameter name; None otherwise."""
    if type(template) in SEQUENTIAL_FORWARD:
        prefix, sequential = "layers.", getattr(template, "layers", None)
        if type(sequential) is not nn.Sequential or _hooked(template):
            return None
    elif type(template) is nn.Sequential:
        prefix, sequential = "", template
    else:
        return None
    if _global_hooks():
        return None
    children = list(sequential._modules.items())
    if not children or _hooked(sequential):
        return None
    if len({id(child) for _, child in children}) < len(children):
        return None  # a module used twice: its weights are tied
    first = children[0][1]
    if type(first) is not nn.Flatten or (first.start_dim, first.end_dim) != (1, -1):
        return None  # every Linear then sees (N, B, features)
    layers: list[Layer] = []
    for name, child in children[1:]:
        if _hooked(child):
            return None
        path = f"{prefix}{name}"
        if type(child) in (nn.Linear, DropConnectLinear):
            bias = f"{path}.bias" if child.bias is not None else None
            rate = _rate(child, "p", path) if type(child) is DropConnectLinear else None
            layers.append(("linear", f"{path}.weight", bias, rate))
        elif type(child) in ACTIVATIONS:
            layers.append(("act", ACTIVATIONS[type(child)]))
        elif type(child) is Dropout and child.impl != "torch":
            layers.append(("dropout", _rate(child, "p", path), child.impl))
        elif type(child) is GaussianNoise:
            layers.append(("noise", _rate(child, "std", path)))
        elif type(child) is not nn.Identity:
            return None
    if not any(kind == "linear" for kind, *_ in layers):
        return None
    return layers


def _rate(module: nn.Module, attribute: str, path: str):
    """A rate or std: the module's number, or the name of the stacked buffer holding each
    replica's."""
    value = getattr(module, attribute)
    return f"{path}.{attribute}" if torch.is_tensor(value) else value


def _per_replica(rate, buffers: dict | None):
    """A layer's rate or std as its forward uses it: a number, or each replica's (N, 1, 1)."""
    return buffers[rate].view(-1, 1, 1) if isinstance(rate, str) else rate


def plain_forward(
    layers: list[Layer], params: dict, x: torch.Tensor, buffers: dict | None = None
) -> torch.Tensor:
    """(N, B, ...) inputs -> (N, B, outputs), as vmap(functional_call) over the stack in
    training mode (dropout, DropConnect and noise on, each drawing as vmap's
    randomness="different" draws; `buffers`: the stacked per-replica rates and stds). Each
    layer calls what its module's forward calls, with each replica's rate."""
    h = x.flatten(2)
    for kind, *what in layers:
        if kind == "linear":
            weight_name, bias, dropconnect = what
            weight, rate = params[weight_name], _per_replica(dropconnect, buffers)
            if rate is not None and is_on(rate):
                weight = masked_weight(weight, rate)
            h = StackedLinearFunction.apply(h, weight, params[bias] if bias else None)
        elif kind == "dropout":
            rate, impl = what
            rate = _per_replica(rate, buffers)
            if is_on(rate):
                h = drop(h, rate, impl)
        elif kind == "noise":
            std = _per_replica(what[0], buffers)
            if is_on(std):
                h = add_noise(h, std)
        else:
            h = what[0](h)
    return h
