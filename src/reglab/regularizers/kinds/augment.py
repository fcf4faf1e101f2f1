"""Data augmentation of training batches (`regularizer=augment`, image data sets), from
{crop_padding, flip, grayscale} (reglab.regularizers.settings.AugmentConfig).

Not per replica yet: BatchAugment draws per sample from one generator; per-replica draws
(each replica its single run's augmentations) are not written."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import AugmentConfig

KEYS = {"augment": (AugmentConfig | None, None)}
REFUSAL = "per-replica augmentation draws"


class AugmentRegularizer(Regularizer, keys=KEYS, order=220, replica_refusal=REFUSAL):
    def augmentation(self, seed: int):
        from reglab.regularizers.augment import BatchAugment

        return BatchAugment(self.value, seed)
