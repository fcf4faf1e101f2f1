"""Builds the data module a validated `dataset` config names, built-in or a user's: one path."""

import inspect

import lightning as L

from reglab.config.errors import ConfigError
from reglab.config.signatures import TargetError, import_target, kind_of, signature_of
from reglab.data.config import BUILT_IN, LOADER_KEYS, DatasetConfig
from reglab.data.custom import TensorDataModule, describe_datamodule


def data_class(target: str) -> type:
    """The class `dataset._target_` names, checked before anything calls it (a stored config's
    `_target_` is data, not code to run): a LightningDataModule, or a class with `load()`."""
    try:
        cls = import_target(target)
    except TargetError as exc:
        raise ConfigError(f"dataset._target_: {exc}") from None
    if not inspect.isclass(cls) or not (
        issubclass(cls, L.LightningDataModule) or callable(getattr(cls, "load", None))
    ):
        raise ConfigError(
            f"dataset._target_={target} is {kind_of(cls)}, not a LightningDataModule or a class "
            "with load() (README: 'Your own data set')"
        )
    return cls


def build_datamodule(cfg: DatasetConfig, seed: int) -> L.LightningDataModule:
    """The data module of `cfg._target_` (nothing is loaded yet, except a user's tensors).

    A built-in data module gets its validated config; any other class its keyword arguments
    (and `seed` where it takes one). A class that is not a LightningDataModule must have a
    `load()` that returns the six tensors; reglab serves them from memory."""
    cls = data_class(cfg.target)
    if isinstance(cfg, BUILT_IN):
        return cls(cfg, seed)
    signature = signature_of(cfg.target)
    keywords = cfg.keywords()
    loader = {k: keywords.pop(k) for k in LOADER_KEYS if k in keywords and k not in signature.names}
    if "seed" in signature.names:
        keywords["seed"] = seed
    what = f"dataset._target_={cfg.target}"
    built = cls(**keywords)
    if isinstance(built, L.LightningDataModule):
        if loader:
            raise ConfigError(
                f"dataset.{next(iter(loader))}: {cfg.target} is a LightningDataModule that does "
                "not take it; set the batch size through its own arguments"
            )
        built.info = describe_datamodule(built, what)
        return built
    if not callable(getattr(built, "load", None)):
        raise ConfigError(
            f"{what} is neither a LightningDataModule nor has a load() returning tensors "
            "(README: 'Your own data set')"
        )
    return TensorDataModule(
        built, loader.get("batch_size", 256), loader.get("eval_batch_size", 1024), seed
    )
