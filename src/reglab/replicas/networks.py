"""The replicas as instruments read networks (the methods of reglab.callbacks.networks'
SingleNetwork, over the stacked replicas): parameters and gradients as the stacked (N, ...)
tensors, a function of one network run on every replica with its own weights
(`torch.func.vmap` over `functional_call`), and (N,) values published into each replica's
metrics.csv row (`ReplicaModule._record`) and, from there, its logger run.
"""

from pathlib import Path

import torch
from torch.func import functional_call, vmap

from reglab import contract
from reglab.callbacks.networks import PerNetwork, weight_parameter_names
from reglab.run_folder import RunFolder


class ReplicaNetworks:
    def __init__(self, module):
        self.module = module  # the ReplicaModule
        self.stacked = module.net
        self.task = module.task
        self.data = module.data  # the in-memory data module (splits, prepare_inputs)
        self.num_replicas = self.stacked.num_replicas

    @property
    def active(self) -> torch.Tensor:
        """(N,) bool: the replicas whose epoch is recorded (not stopped, not diverged)."""
        return self.module.active

    @property
    def diverged(self) -> torch.Tensor:
        statuses = [outcome.status for outcome in self.module.outcomes]
        return torch.tensor([status == contract.DIVERGED for status in statuses])

    @property
    def architecture(self) -> torch.nn.Module:
        return self.stacked.template

    def parameters(self) -> dict[str, torch.Tensor]:
        return dict(self.stacked.params)

    def gradients(self) -> dict[str, torch.Tensor]:
        return {name: p.grad for name, p in self.stacked.params.items() if p.grad is not None}

    def weight_names(self) -> dict[str, str]:
        return weight_parameter_names(self.stacked.template)

    def apply(self, fn: PerNetwork, x: torch.Tensor, train: bool | None = None):
        """fn(net, forward, x) on every replica, with its own weights, the same inputs x;
        tensors it returns come back with a leading replica dimension. In training mode each
        replica draws its own dropout masks."""
        template = self.stacked.template
        train = self.module.training if train is None else train
        template.train(train)

        def one(params, buffers, inputs):
            def forward(batch: torch.Tensor) -> torch.Tensor:
                return functional_call(template, (params, buffers), (batch,))

            return fn(template, forward, inputs)

        randomness = "different" if train else "error"
        mapped = vmap(one, in_dims=(0, 0, None), randomness=randomness)
        return mapped(self.stacked.params, self.stacked.buffers, self.stacked._inputs(x))

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        return self.stacked.forward_eval(x)

    def publish(self, values: dict[str, torch.Tensor], loggers: bool = True) -> None:
        if self.module.trainer.sanity_checking:
            return
        device = self.module.active.device
        values = {k: v.detach().to(device) for k, v in values.items()}
        if self.module.trainer.testing:  # each replica's record (metrics.json) and logger run
            self.module.test_values.update(values)
            return
        self.module.epoch_values.update(values)
        if not loggers:  # metrics.csv only, as a single run's callback_metrics-only values
            self.module.csv_only.update(values.keys())

    def folders(self, output_dir: Path) -> list[Path]:
        """Each replica's folder: the module's (a pack's jobs are folders of their own, not
        seed_<k>/ of the first job's), else <output_dir>/seed_<k>/."""
        if self.module.folders is not None:
            return [Path(folder) for folder in self.module.folders]
        return [RunFolder(output_dir).replica(seed).path for seed in self.module.seeds]
