"""A folder of class subfolders (`dataset=rmb`): the course's 1-yuan / 100-yuan banknotes, or
any user's images (`dataset.root=...`).

Every image is decoded, converted to RGB and resized to `image_size` x `image_size` once, then
kept as one uint8 tensor in `paths.cache_dir` (never in the data folder, which may be
read-only). The cache is keyed by the folder's listing (paths, sizes, modification times) and
every setting that changes what is cached (the image size, `on_bad_file`: a cache made with
`skip` lacks the bad files, which `error` must report), so adding, removing or replacing a
file, or changing one of those settings, rebuilds it. Decoding the 200 course
images takes about a second; the course's pipeline pays it every epoch.

Split per class, seeded, as the course's split script: 80% train, 10% validation, 10% test.
"""

import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from reglab.data.base import DataInfo, ImageDataModule, Splits
from reglab.data.config import ImageFolderConfig
from reglab.data.errors import BadDataFileError, DatasetNotFoundError
from reglab.outputs.atomic import atomic_write

log = logging.getLogger(__name__)
CACHE_VERSION = 1
# The course normalises RMB with ImageNet's statistics.
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def class_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"Image folder not found: {root}. Fix: set dataset.root=/path/to/folder (one "
            "subfolder per class), or DATA_DIR to a folder that has RMB_data/ inside."
        )
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(folders) < 2:
        raise DatasetNotFoundError(
            f"{root} has {len(folders)} class subfolder(s); an image classification data set "
            "needs one subfolder per class, at least two."
        )
    return folders


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def image_classes(root: Path) -> list[Path]:
    """The class folders that hold files: classes are counted from what is there, so an
    empty folder does not become a class no image can teach (which would report a perfect
    accuracy on the others). Fewer than two such classes stop the run, naming the folders."""
    folders = class_folders(root)
    empty = [f for f in folders if not _files(f)]
    if len(folders) - len(empty) < 2:
        raise BadDataFileError(
            f"{root}: an image classification data set needs at least two class folders with "
            f"images; empty: {', '.join(str(f) for f in empty)}. Fix: add images to them, or "
            "point dataset.root at another folder."
        )
    for folder in empty:
        log.warning("%s holds no files: left out of the classes", folder)
    return [f for f in folders if f not in empty]


def listing(folders: list[Path]) -> list[tuple[int, Path]]:
    """(class index, file) for every file in the class folders, hidden files left out."""
    return [
        (label, path)
        for label, folder in enumerate(folders)
        for path in sorted(folder.iterdir())
        if path.is_file() and not path.name.startswith(".")
    ]


def fingerprint(root: Path, files: list[tuple[int, Path]], cfg: ImageFolderConfig) -> str:
    """The cache key: the listing, and each setting of `cfg` that changes the decoded
    tensors or which files they hold."""
    digest = hashlib.sha256(f"{CACHE_VERSION}:{cfg.image_size}:{cfg.on_bad_file}".encode())
    for label, path in files:
        stat = path.stat()
        rel = path.relative_to(root).as_posix()
        digest.update(f"{label}:{rel}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def decode(path: Path, size: int) -> np.ndarray:
    """(3, size, size) uint8 of one image file, resized like torchvision's Resize((s, s))."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy()


def decode_all(files, size: int, on_bad_file: str) -> tuple[torch.Tensor, torch.Tensor, list]:
    images, labels, skipped = [], [], []
    for label, path in files:
        try:
            images.append(decode(path, size))
        except Exception as exc:
            if on_bad_file == "error":
                raise BadDataFileError(
                    f"Cannot read {path} as an image ({type(exc).__name__}: {exc}). Fix: remove "
                    "it, or set dataset.on_bad_file=skip to leave such files out with a warning."
                ) from exc
            warnings.warn(f"Skipped {path}: not a readable image ({exc})", stacklevel=2)
            skipped.append(str(path))
            continue
        labels.append(label)
    if not images:
        folders = sorted({str(path.parent) for _, path in files})
        raise BadDataFileError(f"No readable images in the class folders {', '.join(folders)}.")
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64), skipped


def load_images(cfg: ImageFolderConfig) -> dict:
    """{'images', 'labels', 'classes', 'skipped', 'cache'}, from the cache when it is current."""
    root = Path(cfg.root).expanduser().resolve()
    folders = image_classes(root)
    files = listing(folders)
    key = fingerprint(root, files, cfg)
    cache = Path(cfg.cache_dir).expanduser() / "image_folder" / f"{root.name}-{key}.pt"
    if cache.is_file():
        entry = torch.load(cache, weights_only=True)
        return entry | {"cache": str(cache), "cache_hit": True}
    images, labels, skipped = decode_all(files, cfg.image_size, cfg.on_bad_file)
    unreadable = [f for i, f in enumerate(folders) if not bool((labels == i).any())]
    if unreadable:  # every file of a class was skipped (dataset.on_bad_file=skip)
        raise BadDataFileError(
            f"No readable images in {', '.join(str(f) for f in unreadable)}: every class "
            "needs images. Fix: add readable images, or remove the folder."
        )
    entry = {
        "images": images,
        "labels": labels,
        "classes": [f.name for f in folders],
        "skipped": skipped,
    }
    _save_atomically(entry, cache)
    return entry | {"cache": str(cache), "cache_hit": False}


def _save_atomically(entry: dict, path: Path) -> None:
    try:
        atomic_write(path, lambda f: torch.save(entry, f))  # concurrent jobs never see half
    except OSError as exc:
        log.warning("Could not cache decoded images in %s (%s): decoding again next run", path, exc)


def split_per_class(labels: torch.Tensor, train: float, val: float, seed: int):
    """Index tensors (train, val, test): each class shuffled and cut at train, train+val."""
    generator = torch.Generator().manual_seed(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in labels.unique(sorted=True):
        idx = torch.nonzero(labels == label).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        n_train, n_val = int(len(idx) * train), int(len(idx) * (train + val))
        for part, chunk in zip(
            parts, (idx[:n_train], idx[n_train:n_val], idx[n_val:]), strict=True
        ):
            part.append(chunk)
    return tuple(torch.cat(p) for p in parts)


class ImageFolderDataModule(ImageDataModule):
    MEAN, STD = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, cfg: ImageFolderConfig, seed: int):
        super().__init__(cfg, seed)
        classes = tuple(f.name for f in image_classes(Path(cfg.root).expanduser().resolve()))
        size = cfg.image_size
        self.info = DataInfo(
            in_shape=(3, size, size),
            num_outputs=len(classes),
            task="classification",
            class_names=classes,
        )

    def load_splits(self) -> Splits:
        entry = load_images(self.cfg)
        images, labels = entry["images"], entry["labels"]
        log.info(
            "%d images of %d classes from %s (%s)",
            len(images),
            len(entry["classes"]),
            self.cfg.root,
            "cached" if entry["cache_hit"] else f"decoded, cached in {entry['cache']}",
        )
        train, val, test = split_per_class(
            labels, self.cfg.train_fraction, self.cfg.val_fraction, self.cfg.split_seed
        )
        classes = entry["classes"]
        for name, part in (("training", train), ("validation", val), ("test", test)):
            if len(part) == 0:
                raise BadDataFileError(
                    f"The {name} split of {self.cfg.root} is empty ({len(images)} images): add "
                    "images or change dataset.train_fraction / dataset.val_fraction."
                )
            missing = [c for i, c in enumerate(classes) if not bool((labels[part] == i).any())]
            if missing:  # accuracy on a split without a class says nothing about that class
                counts = {c: int((labels == i).sum()) for i, c in enumerate(classes)}
                where = [f"{c} ({counts[c]} images in {self.cfg.root}/{c})" for c in missing]
                raise BadDataFileError(
                    f"The {name} split of {self.cfg.root} has no image of class "
                    f"{', '.join(where)}"
                    ": add images to that folder or change dataset.train_fraction / "
                    "dataset.val_fraction."
                )
        return Splits(
            images[train], labels[train], images[val], labels[val], images[test], labels[test]
        )
