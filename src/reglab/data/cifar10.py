"""CIFAR-10 (`dataset=cifar10`), read from the official `cifar-10-batches-py` pickles.

45,000 train / 5,000 validation (seeded split of the official training batches) / the official
10,000 test images. The pickles are read directly (a `data` array of 3072-byte rows: R, G, B
planes of 32x32; `labels`), not through torchvision's dataset class, whose MD5 check of every
file would reject anything but the official archive. Downloading goes through torchvision
(URL and archive checksum are its own).
"""

import pickle
from pathlib import Path

import numpy as np
import torch

from reglab.data.base import DataInfo, ImageDataModule, Splits, official_splits
from reglab.data.errors import BadDataFileError, DatasetNotFoundError, check_labels
from reglab.data.locate import locate_or_download

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# Training-set statistics on the [0, 1] scale.
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def find_files(root: Path) -> dict[str, Path] | None:
    folder = root / FOLDER
    files = {name: folder / name for name in (*TRAIN_FILES, TEST_FILE)}
    return files if all(p.is_file() for p in files.values()) else None


def download(root: Path) -> None:
    from torchvision.datasets import CIFAR10

    CIFAR10(str(root), train=True, download=True)


def _not_found(data_dir: Path, reason: str) -> DatasetNotFoundError:
    names = ", ".join((*TRAIN_FILES, TEST_FILE))
    return DatasetNotFoundError(
        f"CIFAR-10 not found: looked in {data_dir / FOLDER} for {names}. {reason}\n"
        "Fix: extract the official cifar-10-python.tar.gz there, or point reglab at a folder "
        f"that has {FOLDER}/ inside with DATA_DIR=/path/to/data or paths.data_dir=... "
        "(and dataset.download=true with a network connection to fetch it)."
    )


# What the official batches (and numpy pickles of any protocol) name: arrays and dtypes.
NUMPY_MODULES = ("numpy", "numpy.core.multiarray", "numpy._core.multiarray")
NUMPY_MODULES += ("numpy.core.numeric", "numpy._core.numeric")
ARRAY_GLOBALS = {
    (module, name)
    for module in NUMPY_MODULES
    for name in ("_reconstruct", "ndarray", "dtype", "_frombuffer", "scalar")
}


class ArraysOnly(pickle.Unpickler):
    """Unpickles numbers, strings, lists, dicts and numpy arrays, nothing else: a data file is
    data, and a planted `__reduce__` (os.system, ...) is refused instead of run."""

    def find_class(self, module: str, name: str):
        if (module, name) in ARRAY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"it holds a Python object ({module}.{name}), not only arrays: refused, a data file "
            "never runs code"
        )


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64) from one official pickle file."""
    try:
        with path.open("rb") as f:
            entry = ArraysOnly(f, encoding="latin1").load()
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    except Exception as exc:
        raise BadDataFileError(f"{path} is not a CIFAR-10 batch file: {exc}") from exc
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise BadDataFileError(f"{path}: expected data rows of 3072 bytes and one label per row")
    check_labels(labels, 10, path)
    return data.reshape(-1, 3, 32, 32), labels


class CIFAR10DataModule(ImageDataModule):
    info = DataInfo(
        in_shape=(3, 32, 32), num_outputs=10, task="classification", class_names=CLASSES
    )

    MEAN, STD = MEAN, STD  # the training-set statistics above

    def load_splits(self) -> Splits:
        data_dir = Path(self.cfg.data_dir).expanduser()
        files = locate_or_download(
            find_files,
            download if self.cfg.download else None,
            data_dir,
            Path(self.cfg.cache_dir).expanduser(),
            lambda reason: _not_found(data_dir, reason),
        )
        train = [read_batch(files[name]) for name in TRAIN_FILES]
        images = torch.from_numpy(np.concatenate([x for x, _ in train]))
        labels = torch.from_numpy(np.concatenate([y for _, y in train]))
        x_test, y_test = read_batch(files[TEST_FILE])
        return official_splits(
            images,
            labels,
            torch.from_numpy(x_test),
            torch.from_numpy(y_test),
            self.cfg.val_size,
            self.cfg.split_seed,
        )
