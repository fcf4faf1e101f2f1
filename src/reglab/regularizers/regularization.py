"""`Regularization`: the regularizers that are on, composed. The LightningModule, the model
builder, the data module and the seeds=N replica loop ask it what the run gets (hooks,
parameter groups, penalty, loss transform, post-step constraint, lr schedule, callbacks,
augmentation) and never name a regularizer: each is one module of `kinds/` (the protocol:
reglab.regularizers.protocol), so a regularizer written once serves single runs and replicas.
"""

import lightning as L
import torch
from torch import nn

from reglab.config.errors import ConfigError
from reglab.regularizers.hooks import HiddenHooks
from reglab.regularizers.kinds import REGULARIZERS
from reglab.regularizers.protocol import Regularizer, overrides
from reglab.regularizers.weight_decay import parameter_groups, weight_parameters


class Regularization:
    def __init__(self, cfg, model: str = "the model", replica_values: dict | None = None):
        """cfg: the validated `regularizer` node (RegularizerConfig); model: how messages
        name the model. replica_values: stacked replicas whose values of some keys differ
        (a pack, reglab.replicas.packing): {key: tensor over the replicas}; the regularizers
        then read those tensors (declared `per_replica`)."""
        self.model = model
        self.replica_values = dict(replica_values or {})
        # a key with values per replica is on (is_on of a tensor): some replica has it on
        self.cfg = cfg.model_copy(update=self.replica_values) if self.replica_values else cfg
        self.active: list[Regularizer] = [
            r(self.cfg, model) for r in REGULARIZERS if r.is_on(self.cfg)
        ]
        self.has_penalty = self._adds("penalty")
        self.has_constraint = self._adds("constrain")
        self.has_loss_transform = self._adds("training_loss")

    def _set_values(self, values: dict) -> None:
        self.cfg = self.cfg.model_copy(update=values)
        self.active = [type(r)(self.cfg, r.model) for r in self.active]

    def one_replica(self, values: dict) -> "Regularization":
        """This composition as one replica sees it inside `vmap`: `values` are its slices of
        `replica_values` (0-d tensors). Itself when nothing differs between replicas."""
        if not values:
            return self
        copy = object.__new__(Regularization)
        copy.__dict__.update(self.__dict__)
        copy._set_values(values)
        return copy

    def _adds(self, method: str) -> bool:
        return any(overrides(r, method) for r in self.active)

    def _one(self, what: str, found: list):
        """The one regularizer's contribution where a run can take only one (an lr schedule,
        an augmentation), or None."""
        found = [x for x in found if x is not None]
        if len(found) > 1:
            raise ConfigError(f"more than one regularizer sets the run's {what}: choose one")
        return found[0] if found else None

    @property
    def name(self) -> str:
        """What is switched on, e.g. 'dropout+weight_decay', or 'none'."""
        return "+".join(r.switch for r in self.active) or "none"

    def hooks(self, model: str = "the model") -> HiddenHooks:
        """What a model's constructor gets as `hooks` (see reglab.regularizers.hooks)."""
        return HiddenHooks(self.cfg, model)

    def check(self, task: str, hidden_layers: int) -> None:
        """Each regularizer's refusal of the data set's task or the model, before training."""
        for regularizer in self.active:
            regularizer.check(task, hidden_layers)

    def parameter_groups(self, net: nn.Module) -> list[dict]:
        options: dict = {}
        for regularizer in self.active:
            options.update(regularizer.weight_group())
        return parameter_groups(net, options)

    def scheduler(self, optimizer: torch.optim.Optimizer, max_epochs: int):
        """The lr schedule (stepped once per epoch), or None."""
        schedules = [r.scheduler(optimizer, max_epochs) for r in self.active]
        return self._one("lr schedule", schedules)

    def augmentation(self, seed: int):
        """The training-batch augmentation the data module applies, or None."""
        return self._one("augmentation", [r.augmentation(seed) for r in self.active])

    def callbacks(self) -> list[L.Callback]:
        return [callback for r in self.active for callback in r.callbacks()]

    def penalty(self, weights: list[torch.Tensor], replica_dims: int = 0) -> torch.Tensor:
        """The explicit term added to the data loss, from the weights (reglab's weight layers:
        weight_parameters), shaped as their `replica_dims` leading dimensions; zero when no
        regularizer adds one."""
        total = None
        for regularizer in self.active:
            term = regularizer.penalty(weights, replica_dims)
            if term is not None:
                total = term if total is None else total + term
        if total is None:
            return weights[0].new_zeros(weights[0].shape[:replica_dims])
        return total

    def training_loss(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor):
        for regularizer in self.active:
            loss = regularizer.training_loss(loss, outputs, targets)
        return loss

    @torch.no_grad()
    def constrain(self, hidden_weights: list[torch.Tensor]) -> None:
        """After an optimizer step: each constraint on the hidden weight matrices, in place."""
        for regularizer in self.active:
            regularizer.constrain(hidden_weights)

    @staticmethod
    @torch.no_grad()
    def weight_norm(net: nn.Module) -> torch.Tensor:
        """||w||_2 over all weights (not biases), the quantity decay and l2 shrink."""
        return torch.sqrt(sum(w.pow(2).sum() for w in weight_parameters(net)))
