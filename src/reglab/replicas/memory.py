"""How many replicas fit in memory at once: a sweep's pack larger than that trains in parts.

A replica costs its parameters several times over (weights, gradients, up to two optimizer
states, the best weights, the copies a checkpoint takes: 8 copies, counted generously) and
the activations of a training batch (each module's output kept for the backward pass, twice
for the gradient flowing back), measured by one forward pass of a batch through one network.
A pack may use half of the memory free on its device.
"""

import os

import torch
from torch import nn

PARAMETER_COPIES = 8
ACTIVATION_COPIES = 2
SHARE = 0.5


def replica_bytes(net: nn.Module, batch: torch.Tensor) -> int:
    """What one replica of `net` costs in training on `batch` (one training batch)."""
    parameters = sum(p.numel() * p.element_size() for p in net.parameters())
    outputs = 0

    def count(module, inputs, output) -> None:
        nonlocal outputs
        if torch.is_tensor(output):
            outputs += output.numel() * output.element_size()

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(count) for m in leaves]
    try:
        with torch.no_grad():
            net(batch)
    finally:
        for handle in handles:
            handle.remove()
    return PARAMETER_COPIES * parameters + ACTIVATION_COPIES * outputs


def free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not on this system: no limit from here
        return 1 << 62


def replicas_that_fit(per_replica: int, device: torch.device) -> int:
    return max(1, int(SHARE * free_bytes(device)) // max(1, per_replica))
