"""Data augmentation of training batches (`regularizer=augment`, image data sets)."""

from reglab.config.base import Schema
from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import AugmentConfig


class AugmentSettings(Schema):
    augment: AugmentConfig | None = None  # {crop_padding, flip, grayscale}


class AugmentRegularizer(Regularizer):
    Settings = AugmentSettings
    switch = "augment"
    order = 220
    # Measured, not assumed: one draw per replica would be a loop over replicas per batch
    # (BatchAugment draws per sample from one generator); not written yet.
    replica_refusal = "per-replica augmentation draws"

    def augmentation(self, seed: int):
        from reglab.regularizers.augment import BatchAugment

        return BatchAugment(self.value, seed)
