"""Learning-rate decay (`regularizer=lr_decay`): a step or cosine schedule stepped once per
epoch, from {schedule, step_size, gamma, min_lr} (reglab.regularizers.settings.LRDecayConfig)."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import LRDecayConfig


class LRDecayRegularizer(Regularizer, keys={"lr_decay": (LRDecayConfig | None, None)}, order=210):
    def scheduler(self, optimizer, max_epochs: int):
        from reglab.regularizers.lr_decay import lr_scheduler

        return lr_scheduler(self.value, optimizer, max_epochs)
