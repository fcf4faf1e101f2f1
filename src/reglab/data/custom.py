"""A user's data set: any LightningDataModule, or a class whose `load()` returns tensors.

reglab needs to know a data set's input shape, number of outputs and task before it builds
the model. A data module may say so with an `info` attribute (reglab.data.base.DataInfo);
otherwise reglab reads one training batch: integer targets mean classification (with
`num_classes` or `class_names` from the data set, else one more than the largest label in
the training targets), float targets of shape (N, k) regression with k outputs.
"""

import lightning as L
import torch

from reglab.config.errors import ConfigError
from reglab.data.base import DataInfo, InMemoryDataModule, Splits
from reglab.data.errors import DatasetError

SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def infer_info(source, x: torch.Tensor, y: torch.Tensor, what: str) -> DataInfo:
    """The DataInfo of a data set whose batches look like (x, y)."""
    names = tuple(getattr(source, "class_names", ()) or ())
    if not y.is_floating_point():
        if y.dim() != 1:
            raise DatasetError(
                f"{what}: classification targets must be class ids of shape (N,), got "
                f"{tuple(y.shape)}; e.g. y.squeeze(1) (or float targets for regression)"
            )
        labels = int(y.max()) + 1 if y.numel() else 0
        classes = getattr(source, "num_classes", None) or len(names) or labels
        if labels > classes:
            raise DatasetError(f"{what}: a label is {labels - 1} but num_classes is {classes}")
        return DataInfo(tuple(x.shape[1:]), int(classes), "classification", names)
    if y.dim() != 2:
        raise DatasetError(
            f"{what}: regression targets must have shape (N, outputs), got {tuple(y.shape)}; "
            "e.g. y.unsqueeze(1) for one output"
        )
    return DataInfo(tuple(x.shape[1:]), int(y.shape[1]), "regression")


class TensorDataModule(InMemoryDataModule):
    """reglab's in-memory loader over the tensors a user's `load()` returns: a dict (or an
    object with attributes) x_train, y_train, x_val, y_val, x_test, y_test."""

    def __init__(self, source, batch_size: int | None, eval_batch_size: int, seed: int):
        super().__init__(batch_size, eval_batch_size, seed)
        self.source = source
        self.what = f"dataset._target_={type(source).__module__}.{type(source).__qualname__}"
        # read now, to know the shapes before the model is built
        self._loaded = s = self._read()
        self.info = infer_info(source, s.x_train, s.y_train, self.what)
        if batch_size is None:
            self.batch_size = len(s.x_train)

    def load_splits(self) -> Splits:
        return self._loaded

    def _read(self) -> Splits:
        loaded = self.source.load()
        get = loaded.get if isinstance(loaded, dict) else lambda k: getattr(loaded, k, None)
        missing = [k for k in SPLITS if get(k) is None]
        if missing:
            raise DatasetError(f"{self.what}: load() returned no {', '.join(missing)}")
        tensors = [torch.as_tensor(get(k)) for k in SPLITS]
        for (xk, x), (yk, y) in zip(
            zip(SPLITS[::2], tensors[::2], strict=True),
            zip(SPLITS[1::2], tensors[1::2], strict=True),
            strict=True,
        ):
            if len(x) != len(y):
                raise DatasetError(f"{self.what}: {xk} has {len(x)} rows but {yk} {len(y)}")
        return Splits(*tensors)


def describe_datamodule(datamodule: L.LightningDataModule, what: str) -> DataInfo:
    """The DataInfo of a user's LightningDataModule (`info`, or read from one batch)."""
    info = getattr(datamodule, "info", None)
    if isinstance(info, DataInfo):
        return info
    datamodule.setup("fit")
    try:
        x, y = next(iter(datamodule.train_dataloader()))[:2]
    except (StopIteration, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{what}: cannot read a training batch (x, y) to learn the data's shape ({exc}); "
            "give the data module an `info = reglab.data.base.DataInfo(...)` attribute"
        ) from None
    return infer_info(datamodule, x, y, what)
