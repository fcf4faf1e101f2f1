"""Label smoothing (`regularizer=label_smoothing`, Szegedy et al. 2016): the training loss is
the cross-entropy against targets (1 - e) one-hot + e / K uniform, i.e.

    (1 - e) * CE(outputs, y) + e * mean_k(-log softmax(outputs)_k),

what `F.cross_entropy(..., label_smoothing=e)` computes. Only the training loss changes:
val/ and test/ losses stay the plain cross-entropy, so runs with and without smoothing
compare on the same scale (train/loss is the smoothed loss the optimizer minimises).
label_smoothing: e in [0, 1); 0 = off.
"""

from typing import Annotated

from pydantic import Field

from reglab.config.errors import ConfigError
from reglab.regularizers.protocol import Regularizer

Smoothing = Annotated[float, Field(ge=0.0, lt=1.0)]


KEYS = {"label_smoothing": (Smoothing, 0.0)}
# at 0 it does exactly nothing: a job with it off packs with jobs where it is on
PACKING = {"per_replica": ("label_smoothing",), "packs_zero": True}


class LabelSmoothingRegularizer(Regularizer, keys=KEYS, order=90, **PACKING):
    def training_loss(self, loss, outputs, targets):
        uniform = -outputs.log_softmax(-1).mean(-1).mean()  # CE against the uniform target
        return (1 - self.value) * loss + self.value * uniform

    def check(self, task: str, hidden_layers: int) -> None:
        if task != "classification":
            raise ConfigError(
                f"regularizer.label_smoothing={self.value} smooths class labels, and this data "
                f"set is a {task} task: set regularizer.label_smoothing=0"
            )
