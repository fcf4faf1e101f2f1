"""Learning-rate decay (`regularizer=lr_decay`): a step or cosine schedule, once per epoch."""

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import LRDecayConfig


class LRDecaySettings(Schema):
    lr_decay: LRDecayConfig | None = None  # {schedule: step|cosine, step_size, gamma, min_lr}


class LRDecayRegularizer(Regularizer):
    Settings = LRDecaySettings
    switch = "lr_decay"
    order = 210

    def scheduler(self, optimizer, max_epochs: int):
        from reglab.regularizers.lr_decay import lr_scheduler

        return lr_scheduler(self.value, optimizer, max_epochs)
