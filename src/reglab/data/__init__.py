"""Data sets (config group `dataset`), each a LightningDataModule over in-memory tensors."""

from reglab.data.base import DataInfo, InMemoryDataModule
from reglab.data.errors import DatasetNotFoundError
from reglab.data.fashion_mnist import FashionMNISTConfig, FashionMNISTDataModule
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
}
_MODULES = {
    "fashion_mnist": FashionMNISTDataModule,
    "poly": PolyDataModule,
    "linear": LinearRegressionDataModule,
    "toy1d": Toy1DDataModule,
}
DatasetConfig = FashionMNISTConfig | PolyConfig | LinearRegressionConfig | Toy1DConfig


def build_datamodule(cfg: DatasetConfig, seed: int) -> InMemoryDataModule:
    """The data module for a validated `dataset` config (nothing is loaded yet)."""
    return _MODULES[cfg.name](cfg, seed)


__all__ = [
    "SCHEMAS",
    "DataInfo",
    "DatasetConfig",
    "DatasetNotFoundError",
    "InMemoryDataModule",
    "build_datamodule",
]
