"""Data augmentation of training batches (`regularizer=augment`, image data sets), from
{crop_padding, flip, grayscale} (reglab.regularizers.settings.AugmentConfig).
Under seeds=N each replica has its own BatchAugment, seeded as its single run's."""

from reglab.regularizers.protocol import Regularizer
from reglab.regularizers.settings import AugmentConfig

KEYS = {"augment": (AugmentConfig | None, None)}


class AugmentRegularizer(Regularizer, keys=KEYS, order=220):
    def augmentation(self, seed: int):
        from reglab.regularizers.augment import BatchAugment

        return BatchAugment(self.value, seed)
