"""Data sets (config group `dataset`), each a LightningDataModule over in-memory tensors."""

from reglab.data.base import DataInfo, InMemoryDataModule
from reglab.data.cifar10 import CIFAR10Config, CIFAR10DataModule
from reglab.data.errors import BadDataFileError, DatasetError, DatasetNotFoundError
from reglab.data.fashion_mnist import FashionMNISTConfig, FashionMNISTDataModule
from reglab.data.image_folder import ImageFolderConfig, ImageFolderDataModule
from reglab.data.synthetic import (
    LinearRegressionConfig,
    LinearRegressionDataModule,
    PolyConfig,
    PolyDataModule,
    Toy1DConfig,
    Toy1DDataModule,
)

# One entry per `dataset=` option: its config schema and its data module.
SCHEMAS = {
    "fashion_mnist": FashionMNISTConfig,
    "poly": PolyConfig,
    "linear": LinearRegressionConfig,
    "toy1d": Toy1DConfig,
    "cifar10": CIFAR10Config,
    "rmb": ImageFolderConfig,
}
_MODULES = {
    "fashion_mnist": FashionMNISTDataModule,
    "poly": PolyDataModule,
    "linear": LinearRegressionDataModule,
    "toy1d": Toy1DDataModule,
    "cifar10": CIFAR10DataModule,
    "rmb": ImageFolderDataModule,
}
DatasetConfig = (
    FashionMNISTConfig
    | PolyConfig
    | LinearRegressionConfig
    | Toy1DConfig
    | CIFAR10Config
    | ImageFolderConfig
)


def build_datamodule(cfg: DatasetConfig, seed: int) -> InMemoryDataModule:
    """The data module for a validated `dataset` config (nothing is loaded yet)."""
    return _MODULES[cfg.name](cfg, seed)


__all__ = [
    "SCHEMAS",
    "BadDataFileError",
    "DataInfo",
    "DatasetConfig",
    "DatasetError",
    "DatasetNotFoundError",
    "InMemoryDataModule",
    "build_datamodule",
]
