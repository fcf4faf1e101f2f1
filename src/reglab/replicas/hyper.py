"""A pack's per-replica learning rates and weight decays, applied around one optimizer step
over the stacked tensors (what may differ, and why it is exact:
reglab.replicas.optimizer_traits).

Each replica's own optimizer (built over its own network, never stepped) says what its groups'
options are; the stacked optimizer takes the first replica's, with weight decay 0 where the
replicas' decays differ, and this applies the difference."""

import torch

from reglab.config.errors import ConfigError
from reglab.regularizers.protocol import broadcast

VARYING = ("lr", "weight_decay")


def _per_replica(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(N,) values shaped (and cast) to broadcast against a stacked tensor."""
    return broadcast(values.to(like.device, like.dtype), like)


class ReplicaHyper:
    def __init__(self, lr_scales: list, decays: list, decoupled: bool):
        """Per parameter group: lr_k / lr_0 (N,) or None (all equal), weight decay (N,) or
        None (the group's own); `decoupled`: AdamW's w *= 1 - lr * wd."""
        self.lr_scales, self.decays, self.decoupled = lr_scales, decays, decoupled
        self._before: list[torch.Tensor] = []
        # reused each step, not allocated: a fresh tensor the size of a stacked weight costs
        # page faults and cache misses, more than the arithmetic (toy1d: ~1 ms a step)
        self._held: list[torch.Tensor] = []  # the weights before the step (varying lr)

    @classmethod
    def from_optimizers(cls, optimizers: list[torch.optim.Optimizer], device):
        """(options to set on the stacked optimizer's groups, a ReplicaHyper or None) from the
        replicas' own optimizers (their param_groups in the same order)."""
        groups = [o.param_groups for o in optimizers]
        scales, decays, options = [], [], []
        for g, first in enumerate(groups[0]):
            keys = [k for k in first if k != "params"]
            values = {k: [replica[g][k] for replica in groups] for k in keys}
            fixed = [k for k in keys if k not in VARYING and any(v != first[k] for v in values[k])]
            if fixed:
                raise ConfigError(f"optimizer: {fixed[0]} differs between stacked replicas")
            lrs, wds = values["lr"], values.get("weight_decay", [0.0] * len(groups))
            scale = None
            if any(lr != lrs[0] for lr in lrs):
                scale = torch.tensor([lr / lrs[0] for lr in lrs], device=device)
            decay, option = None, {}
            if any(wd != wds[0] for wd in wds):
                decay = torch.tensor(wds, dtype=torch.float32, device=device)
                option = {"weight_decay": 0.0}
            scales.append(scale)
            decays.append(decay)
            options.append(option)
        if all(s is None for s in scales) and all(d is None for d in decays):
            return options, None
        first = optimizers[0]
        decoupled = isinstance(first, torch.optim.AdamW) or bool(
            first.param_groups[0].get("decoupled_weight_decay", False)
        )
        return options, cls(scales, decays, decoupled)

    @property
    def varies_lr(self) -> bool:
        return any(scale is not None for scale in self.lr_scales)

    def lr_of(self, group_index: int, lr: float, n: int) -> torch.Tensor:
        """Each replica's learning rate in group `group_index`, whose lr is `lr` now."""
        scale = self.lr_scales[group_index]
        return torch.full((n,), lr) if scale is None else lr * scale.cpu()

    @torch.no_grad()
    def before_step(self, optimizer: torch.optim.Optimizer) -> None:
        for group, decay, scale in zip(
            optimizer.param_groups, self.decays, self.lr_scales, strict=True
        ):
            if decay is None:
                continue
            for p in group["params"]:
                if p.grad is None:
                    continue
                wd = _per_replica(decay, p)
                if self.decoupled:  # AdamW: p *= 1 - lr_k * wd_k, before the update
                    lr = group["lr"] if scale is None else group["lr"] * _per_replica(scale, p)
                    p.mul_(1 - lr * wd)
                else:  # what SGD, Adam, RMSprop... do to the gradient inside their step
                    # (in one pass: the stacked weights are bigger than the caches)
                    p.grad.addcmul_(p, wd)
        varying = [
            p
            for group, scale in zip(optimizer.param_groups, self.lr_scales, strict=True)
            if scale is not None
            for p in group["params"]
        ]
        if [h.shape for h in self._held] != [p.shape for p in varying]:
            self._held = [torch.empty_like(p) for p in varying]
        for held, p in zip(self._held, varying, strict=True):
            held.copy_(p)
        self._before = self._held

    @torch.no_grad()
    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Each replica's move rescaled by lr_k / lr_0: before + s_k * (after - before)."""
        before = iter(self._before)
        for group, scale in zip(optimizer.param_groups, self.lr_scales, strict=True):
            if scale is None:
                continue
            for p in group["params"]:
                start = next(before)  # in place, then copied: torch.lerp without a new tensor
                p.copy_(start.lerp_(p, _per_replica(scale, p)))
        self._before = []
