"""The LightningDataModule shared by every in-memory data set."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import lightning as L
import torch

from reglab.config.errors import ConfigError
from reglab.data.loader import TensorBatchLoader
from reglab.data.locate import split_train_val
from reglab.regularizers.augment import BatchAugment

Task = Literal["classification", "regression"]


@dataclass(frozen=True)
class DataInfo:
    """What a model and the LightningModule need to know about a data set, before loading it."""

    in_shape: tuple[int, ...]
    num_outputs: int
    task: Task
    class_names: tuple[str, ...] = ()
    # d2l and the course validate on the test set: then the best-on-validation checkpoint
    # would be chosen on test data, so the test uses the last weights (test_ckpt=auto).
    val_is_test: bool = False
    # the key prefix of the numbers evaluated after every epoch: "val", or "test" where the
    # test set is evaluated every epoch and there is no validation split (protocol=d2l)
    epoch_stage: Literal["val", "test"] = "val"
    # how uint8 images become the model's inputs: /255, then (x - mean) / std per channel
    # (None: not standardised); kept in checkpoints, so RegLabModule.predict needs no data module
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    # the data set stores uint8 images (prepared on the device as above); None: not recorded
    # (a checkpoint from before this key: images when mean is set)
    uint8_images: bool | None = None

    @property
    def takes_uint8_images(self) -> bool:
        return self.uint8_images if self.uint8_images is not None else self.mean is not None

    def as_dict(self) -> dict:
        """Plain values (a checkpoint's hyperparameters)."""
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "DataInfo":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass
class Splits:
    """Train / validation / test tensors; images are uint8 (N, C, H, W)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def to(self, device: torch.device) -> "Splits":
        return Splits(*(t.to(device) for t in vars(self).values()))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.x_train), "val": len(self.x_val), "test": len(self.x_test)}


def official_splits(
    images: torch.Tensor,
    labels: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    val_size: int,
    split_seed: int,
) -> Splits:
    """An official train/test pair, with `val_size` training images held out for validation
    (seeded by `split_seed` only, so the split does not move with `seed`)."""
    if val_size >= len(images):
        raise ConfigError(
            f"dataset.val_size={val_size} leaves no training data ({len(images)} training images)"
        )
    train_idx, val_idx = split_train_val(len(images), val_size, split_seed)
    return Splits(
        images[train_idx], labels[train_idx], images[val_idx], labels[val_idx], x_test, y_test
    )


class InMemoryDataModule(L.LightningDataModule):
    """Loads a whole data set once into tensors and serves batches by slicing.

    Subclasses set `info` and implement `load_splits()`. Images stay uint8 until a batch
    reaches the device, where `on_after_batch_transfer` converts and normalises it: 4x less
    memory and host-to-device traffic than float tensors.
    """

    info: DataInfo

    def __init__(
        self,
        batch_size: int,
        eval_batch_size: int,
        seed: int,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        batches_per_step: int | str = 1,
    ):
        super().__init__()
        self.batch_size = batch_size
        self.batches_per_step = batches_per_step
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.splits: Splits | None = None
        self._mean = None if mean is None else torch.tensor(mean).view(1, -1, 1, 1)
        self._std = None if std is None else torch.tensor(std).view(1, -1, 1, 1)
        # training-batch augmentation (regularizer=augment), set by train.py
        self.augment: BatchAugment | None = None
        # what the evaluation protocol does to the loaded splits (reglab.data.protocol)
        self.split_transform: Callable[[Splits], Splits] | None = None

    def load_splits(self) -> Splits:
        raise NotImplementedError

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """(mean, std) per channel that standardise images on the [0, 1] scale, or None."""
        if self._mean is None:
            return None
        return tuple(self._mean.flatten().tolist()), tuple(self._std.flatten().tolist())

    def setup(self, stage: str | None = None) -> None:
        # train.py calls this once before the Trainer exists (the data are found and read
        # before any output is created); Lightning calls it again on the training device.
        if self.splits is None:
            splits = self.load_splits()
            if self.split_transform is not None:
                splits = self.split_transform(splits)
            self.splits = splits
        device = self._device()
        if self.splits.x_train.device != device:  # the data set stays on the accelerator
            self.splits = self.splits.to(device)

    def _overfitting(self) -> bool:
        trainer = getattr(self, "trainer", None)
        return trainer is not None and bool(trainer.overfit_batches)

    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    @property
    def fused(self) -> bool:
        """Whether a training step gets several batches (see `dataset.batches_per_step`)."""
        return self.batches_per_step != 1

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _shard(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's contiguous part of an evaluation split (torchmetrics sums them up)."""
        rank, world = self._rank()
        if world == 1:
            return x, y
        return x.tensor_split(world)[rank], y.tensor_split(world)[rank]

    def train_dataloader(self) -> TensorBatchLoader:
        s = self.splits
        rank, world = self._rank()
        loader = TensorBatchLoader(
            s.x_train,
            s.y_train,
            self.batch_size,
            # trainer.overfit_batches (debug=overfit): the same first batches every epoch, as
            # Lightning does for a DataLoader (it turns shuffling off)
            shuffle=not self._overfitting(),
            seed=self.seed,
            rank=rank,
            world_size=world,
        )
        per_step = self.batches_per_step
        loader.batches_per_item = loader.num_batches if per_step == "epoch" else int(per_step)
        return loader

    def val_dataloader(self) -> TensorBatchLoader:
        x, y = self._shard(self.splits.x_val, self.splits.y_val)
        return TensorBatchLoader(x, y, self.eval_batch_size)

    def test_dataloader(self) -> TensorBatchLoader:
        x, y = self._shard(self.splits.x_test, self.splits.y_test)
        return TensorBatchLoader(x, y, self.eval_batch_size)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        # Our batches are (inputs, targets) tensors, mostly already on `device`, or a list of
        # them (fused steps); Lightning's generic walk over collections costs more per step.
        if isinstance(batch, list):
            return [self.transfer_batch_to_device(b, device, dataloader_idx) for b in batch]
        x, y = batch
        return x.to(device, non_blocking=True), y.to(device, non_blocking=True)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        augment = self._training_augment()
        if isinstance(batch, list):
            return [(self.prepare_inputs(x, augment), y) for x, y in batch]
        x, y = batch
        return self.prepare_inputs(x, augment), y

    def _training_augment(self) -> BatchAugment | None:
        trainer = getattr(self, "trainer", None)
        if self.augment is None or trainer is None or not trainer.training:
            return None
        self.augment.start(trainer.strategy.root_device, trainer.current_epoch, trainer.global_rank)
        return self.augment

    def prepare_inputs(self, x: torch.Tensor, augment: BatchAugment | None = None) -> torch.Tensor:
        """uint8 images -> float in [0, 1] (augmented in training), then standardised when
        mean/std are set."""
        if x.dtype != torch.uint8:
            return x
        x = augment(x) if augment is not None else x.float().div_(255.0)
        if self._mean is not None:
            mean, std = self._mean.to(x.device), self._std.to(x.device)
            x = x.sub_(mean).div_(std)
        return x


class ImageDataModule(InMemoryDataModule):
    """An image data set whose config has batch_size, eval_batch_size and normalize; MEAN and
    STD (per channel, on the [0, 1] scale) standardise it when normalize is on."""

    MEAN: tuple[float, ...]
    STD: tuple[float, ...]

    def __init__(self, cfg, seed: int):
        super().__init__(
            cfg.batch_size,
            cfg.eval_batch_size,
            seed,
            mean=self.MEAN if cfg.normalize else None,
            std=self.STD if cfg.normalize else None,
        )
        self.cfg = cfg
