"""Schemas of the `dataset` and `protocol` groups. Torch-free: validating a config does not
import torch.

A dataset option names its class with `_target_`. The built-in data sets have typed schemas
below (sharing the bases for in-memory and image data); any other `_target_` (a user's data
set) is checked against its constructor's signature. reglab supplies `seed` to a constructor
that takes it. `batch_size` / `eval_batch_size` go to a user's class when it takes them, else
to reglab's in-memory loader (a class that returns tensors).
"""

from typing import ClassVar, Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    model_validator,
)

from reglab.config.base import Schema
from reglab.config.targets import TargetConfig, TargetSchemas, check_keywords

SUPPLIED = ("seed",)
# what torch.Generator.manual_seed takes (split_seed, data_seed seed one)
GeneratorSeed = Field(ge=0, le=2**64 - 1)
LOADER_KEYS = ("batch_size", "eval_batch_size")


class DatasetConfig(TargetConfig):
    """What every dataset option has. `name` labels runs (default: the class name)."""

    name: str | None
    OWN_KEYS: ClassVar[tuple[str, ...]] = ("_target_", "target", "name")

    @property
    def label(self) -> str:
        return self.name or self.target.rpartition(".")[2].lower()

    def keywords(self) -> dict:
        fields = self.model_dump(by_alias=True)
        return {k: v for k, v in fields.items() if k not in self.OWN_KEYS}


class InMemoryConfig(DatasetConfig):
    """Data held in memory as tensors and served by reglab's batch loader."""

    model_config = DatasetConfig.model_config | {"extra": "forbid"}
    batch_size: PositiveInt | None  # null = the whole training set in one batch
    eval_batch_size: PositiveInt


class ImageDataConfig(InMemoryConfig):
    """Image data sets: decoded once to uint8 tensors, cached, normalised on the device."""

    cache_dir: str
    split_seed: int = GeneratorSeed  # the validation split does not move when `seed` changes
    normalize: bool


class OfficialSplitConfig(ImageDataConfig):
    """An official train/test pair; `val_size` training images are held out for validation."""

    data_dir: str
    val_size: NonNegativeInt
    download: bool
    TRAIN_IMAGES: ClassVar[int]

    @model_validator(mode="after")
    def _training_images_left(self):
        left = self.TRAIN_IMAGES - self.val_size
        train_size = getattr(self, "train_size", None)  # a subset of what is left (Fashion-MNIST)
        if left <= 0:
            why = f"leaves no training data: {self.name} has {self.TRAIN_IMAGES} training images"
            raise ValueError(f"dataset.val_size={self.val_size} {why}")
        if train_size is not None and train_size > left:
            raise ValueError(
                f"dataset.train_size={train_size} is more than the {left} training images "
                f"left after dataset.val_size={self.val_size}: use at most {left}, or null for all"
            )
        return self


class FashionMNISTConfig(OfficialSplitConfig):
    target: Literal["reglab.data.fashion_mnist.FashionMNISTDataModule"] = Field(alias="_target_")
    TRAIN_IMAGES: ClassVar[int] = 60000
    # train on only this many of the training split's images (a seeded random subset, by
    # split_seed): a small training set overfits visibly (the early-stopping note). null = all
    train_size: PositiveInt | None


class CIFAR10Config(OfficialSplitConfig):
    target: Literal["reglab.data.cifar10.CIFAR10DataModule"] = Field(alias="_target_")
    TRAIN_IMAGES: ClassVar[int] = 50000
    batch_size: PositiveInt
    eval_batch_size: PositiveInt


class ImageFolderConfig(ImageDataConfig):
    """A folder of class subfolders (the course's RMB banknotes)."""

    target: Literal["reglab.data.image_folder.ImageFolderDataModule"] = Field(alias="_target_")
    root: str
    image_size: PositiveInt
    train_fraction: float = Field(gt=0, lt=1)
    val_fraction: float = Field(gt=0, lt=1)
    batch_size: PositiveInt
    eval_batch_size: PositiveInt
    on_bad_file: Literal["error", "skip"]

    @model_validator(mode="after")
    def _fractions(self):
        if self.train_fraction + self.val_fraction >= 1:
            raise ValueError(
                f"dataset.train_fraction + dataset.val_fraction = "
                f"{self.train_fraction + self.val_fraction:g} leaves no test images: "
                "their sum must be below 1"
            )
        return self


class SyntheticConfig(InMemoryConfig):
    """The generated regression sets: tiny, so a step is mostly Lightning's own overhead."""

    data_seed: int = GeneratorSeed
    batch_size: PositiveInt | None
    # Batches per Lightning step: "epoch" runs an epoch's minibatches (same order, one
    # optimizer step each) inside one step, since Lightning's ~1 ms per step is ten times the
    # work of a step here. 1 = one Lightning step per batch.
    batches_per_step: PositiveInt | Literal["epoch"]


class PolyConfig(SyntheticConfig):
    target: Literal["reglab.data.synthetic.PolyDataModule"] = Field(alias="_target_")
    max_degree: PositiveInt
    features: PositiveInt
    true_weights: list[float] = Field(min_length=1)
    n_train: PositiveInt
    n_test: PositiveInt
    noise: NonNegativeFloat

    @model_validator(mode="after")
    def _fits(self):
        if self.features > self.max_degree:
            raise ValueError(
                f"dataset.features={self.features} exceeds dataset.max_degree={self.max_degree}"
            )
        if len(self.true_weights) > self.max_degree:
            raise ValueError("dataset.true_weights has more entries than dataset.max_degree")
        return self


class LinearRegressionConfig(SyntheticConfig):
    target: Literal["reglab.data.synthetic.LinearRegressionDataModule"] = Field(alias="_target_")
    num_inputs: PositiveInt
    true_weight: float
    true_bias: float
    n_train: PositiveInt
    n_test: PositiveInt
    noise: NonNegativeFloat


class Toy1DConfig(SyntheticConfig):
    target: Literal["reglab.data.synthetic.Toy1DDataModule"] = Field(alias="_target_")
    n_points: PositiveInt
    x_range: tuple[float, float]
    slope: float
    train_noise: NonNegativeFloat
    test_noise: NonNegativeFloat


class UserDatasetConfig(DatasetConfig):
    """Any other `_target_`: a LightningDataModule, or a class whose `load()` returns tensors
    (served by reglab's in-memory loader). Keys are checked against its signature."""

    name: str | None = None

    @model_validator(mode="after")
    def _known_arguments(self):
        keywords = self.keywords()
        constructor = {k: v for k, v in keywords.items() if k not in LOADER_KEYS}
        check_keywords("dataset", self.target, constructor, supplied=SUPPLIED)
        for key in LOADER_KEYS:
            value = keywords.get(key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"dataset.{key} must be a positive integer, got {value!r}")
        return self


BUILT_IN = (
    FashionMNISTConfig,
    CIFAR10Config,
    ImageFolderConfig,
    PolyConfig,
    LinearRegressionConfig,
    Toy1DConfig,
)
SCHEMAS = TargetSchemas(BUILT_IN, UserDatasetConfig)
# A built-in `_target_` gets its typed schema; any other the signature-checked one.
DatasetSchema = SCHEMAS.union


class ProtocolConfig(Schema):
    """How the data are split between train, validation and test (reglab.data.protocol)."""

    name: Literal["default", "d2l"]
