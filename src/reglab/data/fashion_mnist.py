"""Fashion-MNIST (`dataset=fashion_mnist`), read from the official IDX files.

The four files are looked up in `<data_dir>/FashionMNIST/raw/`, gzip-compressed as
distributed or decompressed as torchvision leaves them. Reading the `.gz` directly writes
nothing next to the data (data folders may be read-only) and costs about 0.3 s, so nothing
is cached. When the files are missing and `download` is on, torchvision fetches them with its
checksums into the data folder (or the cache folder when the data folder is read-only).
"""

from pathlib import Path

import numpy as np
import torch

from reglab.config.errors import ConfigError
from reglab.data.base import DataInfo, ImageDataModule, Splits, official_splits
from reglab.data.config import FashionMNISTConfig
from reglab.data.errors import BadDataFileError, DatasetNotFoundError, check_labels
from reglab.data.idx import read_idx
from reglab.data.locate import locate_or_download

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# Training-set statistics on the [0, 1] scale.
MEAN, STD = (0.2860,), (0.3530,)
SUBDIR = Path("FashionMNIST") / "raw"


def _file(raw_dir: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (raw_dir / name).is_file():
            return raw_dir / name
    return None


def find_files(root: Path) -> dict[str, Path] | None:
    """The four files under `root`, if all are there."""
    found = {key: _file(root / SUBDIR, stem) for key, stem in FILES.items()}
    return found if all(found.values()) else None


def download(root: Path) -> None:
    """Fetches the official files with torchvision (URLs, mirrors and MD5 checks are its own)."""
    from torchvision.datasets import FashionMNIST

    FashionMNIST(str(root), train=True, download=True)


def _not_found(data_dir: Path, reason: str) -> DatasetNotFoundError:
    names = ", ".join(f"{stem}[.gz]" for stem in FILES.values())
    return DatasetNotFoundError(
        f"Fashion-MNIST not found: looked in {data_dir / SUBDIR} for {names}. {reason}\n"
        "Fix: put the official files there, or point reglab at a folder that has "
        "FashionMNIST/raw/ inside with DATA_DIR=/path/to/data or paths.data_dir=/path/to/data "
        "(and dataset.download=true with a network connection to fetch them)."
    )


def locate(cfg: FashionMNISTConfig) -> dict[str, Path]:
    """Finds the files, downloading them when allowed; raises a DatasetNotFoundError."""
    data_dir, cache_dir = Path(cfg.data_dir).expanduser(), Path(cfg.cache_dir).expanduser()
    return locate_or_download(
        find_files,
        download if cfg.download else None,
        data_dir,
        cache_dir,
        lambda reason: _not_found(data_dir, reason),
    )


def load_arrays(files: dict[str, Path]) -> dict[str, np.ndarray]:
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        check_labels(labels, len(CLASSES), files[f"{split}_labels"])
        if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise BadDataFileError(
                f"Fashion-MNIST {split} files do not match: images {images.shape} "
                f"({files[f'{split}_images']}), labels {labels.shape}"
            )
    return arrays


class FashionMNISTDataModule(ImageDataModule):
    info = DataInfo(
        in_shape=(1, 28, 28), num_outputs=10, task="classification", class_names=CLASSES
    )

    MEAN, STD = MEAN, STD  # the training-set statistics above

    def load_splits(self) -> Splits:
        arrays = load_arrays(locate(self.cfg))
        images = torch.from_numpy(arrays["train_images"].copy()).unsqueeze(1)
        labels = torch.from_numpy(arrays["train_labels"].astype(np.int64))
        splits = official_splits(
            images,
            labels,
            torch.from_numpy(arrays["test_images"].copy()).unsqueeze(1),
            torch.from_numpy(arrays["test_labels"].astype(np.int64)),
            self.cfg.val_size,
            self.cfg.split_seed,
        )
        return training_subset(splits, self.cfg.train_size)


def training_subset(splits: Splits, train_size: int | None) -> Splits:
    """The first `train_size` images of the training split (already a seeded permutation of
    the official training set, so a random subset that does not move with `seed`)."""
    if train_size is None:
        return splits
    available = len(splits.x_train)
    if train_size > available:
        raise ConfigError(
            f"dataset.train_size={train_size} is more than the {available} training images "
            f"left after dataset.val_size: use at most {available}, or null for all"
        )
    splits.x_train, splits.y_train = splits.x_train[:train_size], splits.y_train[:train_size]
    return splits
