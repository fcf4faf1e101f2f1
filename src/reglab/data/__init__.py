"""Data sets (config group `dataset`), each a LightningDataModule over in-memory tensors."""

from reglab.data.base import DataInfo, InMemoryDataModule
from reglab.data.errors import DatasetNotFoundError
from reglab.data.fashion_mnist import FashionMNISTConfig, FashionMNISTDataModule

# One entry per `dataset=` option: its config schema and its data module.
SCHEMAS = {"fashion_mnist": FashionMNISTConfig}
_MODULES = {"fashion_mnist": FashionMNISTDataModule}
DatasetConfig = FashionMNISTConfig


def build_datamodule(cfg: DatasetConfig, seed: int) -> InMemoryDataModule:
    """The data module for a validated `dataset` config (nothing is loaded yet)."""
    return _MODULES[cfg.name](cfg, seed)


def dataset_info(cfg: DatasetConfig) -> DataInfo:
    return _MODULES[cfg.name].info


__all__ = [
    "SCHEMAS",
    "DataInfo",
    "DatasetConfig",
    "DatasetNotFoundError",
    "InMemoryDataModule",
    "build_datamodule",
    "dataset_info",
]
