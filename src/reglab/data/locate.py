"""Finding a data set's files, and downloading them once when allowed."""

import os
from collections.abc import Callable
from pathlib import Path

import torch

from reglab.data.errors import DatasetNotFoundError


def writable(path: Path) -> bool:
    while not path.exists():
        path = path.parent
    return os.access(path, os.W_OK)


def locate_or_download(
    find: Callable[[Path], dict[str, Path] | None],
    download: Callable[[Path], None] | None,
    data_dir: Path,
    cache_dir: Path,
    not_found: Callable[[str], DatasetNotFoundError],
) -> dict[str, Path]:
    """The files `find` reports in the data folder or the cache folder; else downloads them
    (into the data folder, or the cache folder when the data folder is read-only)."""
    for root in (data_dir, cache_dir):
        found = find(root)
        if found:
            return found
    if download is None:
        raise not_found("Downloading is off (dataset.download=false).")
    target = data_dir if writable(data_dir) else cache_dir
    try:
        target.mkdir(parents=True, exist_ok=True)
        download(target)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError variously
        raise not_found(f"Download into {target} failed: {exc}") from exc
    found = find(target)
    if not found:
        raise not_found(f"Download into {target} left no complete set of files.")
    return found


def split_train_val(n: int, val_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (train, val) index split of an official training set."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[val_size:], order[:val_size]
