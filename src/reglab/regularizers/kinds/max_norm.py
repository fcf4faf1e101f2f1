"""Max-norm constraint (`regularizer=max_norm`, Srivastava et al. 2014, the dropout paper's
companion to dropout): after every optimizer step, each hidden unit's incoming weight vector
(a row of its layer's weight matrix) is rescaled to L2 norm at most c; rows already within
the ball are left as they are. Hidden layers are "hidden 1", "hidden 2", ... of
reglab.models.roles (the fully connected layers before the output), so it works on any model.
max_norm: c, the largest norm of a hidden unit's weights; 0 = off.
"""

from typing import Annotated

from pydantic import Field

from reglab.config.errors import ConfigError
from reglab.regularizers.protocol import Regularizer, broadcast

# finite: c = inf would compute inf / inf (NaN weights); "no constraint" is 0
FiniteNonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]


class MaxNormRegularizer(
    Regularizer, keys={"max_norm": (FiniteNonNegative, 0.0)}, order=80, per_replica=("max_norm",)
):
    def constrain(self, hidden_weights: list) -> None:
        for w in hidden_weights:  # (..., out, in): the last dimension is a unit's fan-in
            c = broadcast(self.value, w)  # a pack's replicas: each its own c
            w.mul_(c / w.norm(dim=-1, keepdim=True).clamp(min=c))  # 1 inside the ball

    def check(self, task: str, hidden_layers: int) -> None:
        if hidden_layers == 0:
            raise ConfigError(
                f"regularizer.max_norm={self.value} constrains hidden units, and {self.model} "
                "has no hidden fully connected layer: set regularizer.max_norm=0 or choose a "
                "model with hidden layers (model=mlp)"
            )
