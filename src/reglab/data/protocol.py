"""The evaluation protocol (`protocol=`): how the data are split between train, validation
and test.

default: a validation split held out of the training data selects checkpoints; the test set
         is used once, at the end.
d2l:     as d2l's `train_ch3`: the model trains on every training image, the test set is
         evaluated after every epoch (logged as `test/*`, the best so far as
         `test/<metric>_best`; there is no validation split and no `val/*` key), and the last
         epoch's test accuracy is the result (the test uses the last weights,
         `test_ckpt=auto`).
"""

from dataclasses import replace

import torch

from reglab.data.base import InMemoryDataModule, Splits
from reglab.data.config import ProtocolConfig


def train_on_all(splits: Splits) -> Splits:
    """The validation images join the training images; the test set becomes the validation
    split (evaluated every epoch)."""
    return Splits(
        torch.cat([splits.x_train, splits.x_val]),
        torch.cat([splits.y_train, splits.y_val]),
        splits.x_test,
        splits.y_test,
        splits.x_test,
        splits.y_test,
    )


def apply_protocol(datamodule: InMemoryDataModule, protocol: ProtocolConfig) -> None:
    """Sets the data module up for the protocol (before anything is loaded). Data sets whose
    validation split already is the test split (the generated ones) keep their splits; under
    d2l their per-epoch numbers are named test/* too."""
    if protocol.name != "d2l":
        return
    if not datamodule.info.val_is_test:
        datamodule.split_transform = train_on_all
    datamodule.info = replace(datamodule.info, val_is_test=True, epoch_stage="test")
