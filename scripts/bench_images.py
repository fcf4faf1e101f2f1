"""LeNet on CIFAR-10-shaped data with augmentation: the image half of bench_epoch.py.

  (a) reglab: `train.py`'s path, `model=lenet dataset=cifar10 regularizer=augment` (crop with
              4-pixel padding + flip, per sample, on the in-memory batch)
  (b) plain:  a hand-written PyTorch loop over the same in-memory tensors with the same batched
              augmentation (the reference)
  (c) loader: what the PyTorch CIFAR-10 tutorial does: a Dataset of PIL images with
              torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor +
              Normalize, DataLoader(num_workers=4)

Random uint8 data of CIFAR-10's shape (45,000 train / 5,000 val); LeNet, SGD lr 0.01 momentum
0.9, batch 128. `--augment-only` times the augmentation alone on one batch: reglab's batched
functions, kornia (per sample, when installed) and torchvision.transforms.v2 (per-sample
randomness needs a loop: v2 draws one set of parameters per call).

    python scripts/bench_epoch.py --model lenet --dataset cifar10 --epochs 1
    python scripts/bench_epoch.py --model lenet --dataset cifar10 --augment-only
"""

import csv
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import torch
from bench_epoch import train_epochs  # the same reference loop as the MLP bench

import reglab.data.cifar10 as cifar10
from reglab.models.lenet import LeNet
from reglab.regularizers.augment import AugmentConfig, BatchAugment

BATCH, LR, MOMENTUM, TRAIN, VAL = 128, 0.01, 0.9, 45000, 5000
AUGMENT = AugmentConfig(crop_padding=4, flip=0.5, grayscale=0.0)


def random_cifar(n: int = TRAIN + VAL, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return images, torch.randint(0, 10, (n,), generator=g)


def _normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(cifar10.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(cifar10.STD).view(1, 3, 1, 1)
    return (x - mean) / std


def bench_plain(images, labels, epochs):
    x_train, y_train = images[:TRAIN], labels[:TRAIN]
    x_val, y_val = images[TRAIN:], labels[TRAIN:]
    augment = BatchAugment(AUGMENT, seed=0)

    def train_batches(epoch):
        augment.start(torch.device("cpu"), epoch)
        order = torch.randperm(TRAIN)
        for i in range(0, TRAIN, BATCH):
            idx = order[i : i + BATCH]
            yield _normalize(augment(x_train[idx])), y_train[idx]

    def val_batches():
        for i in range(0, VAL, 1000):
            yield _normalize(x_val[i : i + 1000].float() / 255), y_val[i : i + 1000]

    torch.manual_seed(0)
    return train_epochs(
        LeNet((3, 32, 32), 10), train_batches, val_batches, epochs, lr=LR, momentum=MOMENTUM
    )


class PILImages(torch.utils.data.Dataset):
    """torchvision's CIFAR10.__getitem__: HWC uint8 -> PIL image -> transform."""

    def __init__(self, images, labels, transform):
        self.images = images.permute(0, 2, 3, 1).numpy()
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i])), self.labels[i]


def bench_dataloader(images, labels, epochs, workers):
    from torch.utils.data import DataLoader
    from torchvision import transforms

    normalize = transforms.Normalize(cifar10.MEAN, cifar10.STD)
    train_tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]
    )
    val_tf = transforms.Compose([transforms.ToTensor(), normalize])
    train_set = PILImages(images[:TRAIN], labels[:TRAIN], train_tf)
    val_set = PILImages(images[TRAIN:], labels[TRAIN:], val_tf)

    def train_batches(epoch):
        return DataLoader(train_set, BATCH, shuffle=True, num_workers=workers)

    def val_batches():
        return DataLoader(val_set, 1000, num_workers=workers)

    torch.manual_seed(0)
    return train_epochs(
        LeNet((3, 32, 32), 10), train_batches, val_batches, epochs, lr=LR, momentum=MOMENTUM
    )


def write_pickles(root: Path, images, labels) -> None:
    folder = root / cifar10.FOLDER
    folder.mkdir(parents=True)
    rows = images.reshape(len(images), 3072).numpy()
    per = (TRAIN + VAL) // 5
    for i, name in enumerate(cifar10.TRAIN_FILES):
        part = slice(i * per, (i + 1) * per)
        entry = {"data": rows[part], "labels": labels[part].tolist()}
        (folder / name).write_bytes(pickle.dumps(entry))
    test = {"data": rows[:1000], "labels": labels[:1000].tolist()}
    (folder / cifar10.TEST_FILE).write_bytes(pickle.dumps(test))


def bench_reglab(images, labels, epochs):
    from reglab.app.job import run
    from reglab.config.compose import compose_config

    with tempfile.TemporaryDirectory() as tmp:
        write_pickles(Path(tmp) / "data", images, labels)
        out = Path(tmp) / "run"
        cfg = compose_config(
            [
                "model=lenet",
                "dataset=cifar10",
                "regularizer=augment",
                f"regularizer.augment.flip={AUGMENT.flip}",
                f"optimizer.lr={LR}",
                f"optimizer.momentum={MOMENTUM}",
                f"dataset.batch_size={BATCH}",
                f"dataset.val_size={VAL}",
                f"trainer.max_epochs={epochs}",
                f"paths.data_dir={tmp}/data",
                f"paths.cache_dir={tmp}/cache",
                "logger=csv",
                "test=false",
                "callbacks.progress_bar=null",
            ],
            out,
        )
        run(cfg)
        with open(out / "metrics.csv") as f:
            return [float(row["epoch_s"]) for row in csv.DictReader(f)]


def bench_augment_only(repeats: int = 20) -> None:
    """Per-batch cost of per-sample crop + flip on 256 CIFAR images, three ways."""
    images, _ = random_cifar(256)
    ours = BatchAugment(AUGMENT, seed=0)
    ours.start(torch.device("cpu"), 0)
    floats = images.float() / 255

    def timed(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3

    results = {"reglab (batched, uint8)": timed(lambda: ours(images))}
    try:
        import kornia.augmentation as K

        kornia_aug = K.AugmentationSequential(
            K.RandomCrop((32, 32), padding=4, p=1.0), K.RandomHorizontalFlip(p=0.5)
        )
        results["kornia (per sample)"] = timed(lambda: kornia_aug(floats))
    except ImportError:
        print("kornia not installed: pip install kornia to compare")
    from torchvision.transforms import v2

    tv = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()])
    results["torchvision v2 (loop over samples)"] = timed(
        lambda: torch.stack([tv(img) for img in images])
    )
    results["torchvision v2 (one call: same crop for all)"] = timed(lambda: tv(images))
    base = results["reglab (batched, uint8)"]
    for name, ms in results.items():
        print(f"  {name:46s} {ms:8.3f} ms/batch  ({ms / base:6.1f}x reglab)")
    kornia_ms = results.get("kornia (per sample)", float("nan"))
    loop_ms = results["torchvision v2 (loop over samples)"]
    print(f"kornia_vs_reglab={kornia_ms / base:.2f} tv_loop_vs_reglab={loop_ms / base:.2f}")


def main(args) -> None:
    if args.augment_only:
        print(f"torch threads {torch.get_num_threads()}; batch of 256 CIFAR images")
        bench_augment_only()
        return
    images, labels = random_cifar()
    print(
        f"data: random, CIFAR-10 shape; {TRAIN} train / {VAL} val; LeNet, batch {BATCH}, "
        f"crop+flip augmentation; torch threads {torch.get_num_threads()}; "
        f"{args.rounds} rounds x {args.epochs} epochs"
    )
    plain, reglab = [], []
    for _ in range(args.rounds):  # alternate: shared machines are noisy
        plain += bench_plain(images, labels, args.epochs)
        reglab += bench_reglab(images, labels, args.epochs)
    loader = (
        [float("nan")]
        if args.skip_dataloader
        else bench_dataloader(images, labels, args.epochs, args.workers)
    )
    a, b, c = (statistics.median(t) for t in (reglab, plain, loader))

    def show(times):
        return " ".join(f"{t:.3f}" for t in times)

    print(f"(a) reglab      median {a:6.3f} s/epoch   [{show(reglab)}]")
    print(f"(b) plain loop  median {b:6.3f} s/epoch   [{show(plain)}]")
    print(f"(c) DataLoader  median {c:6.3f} s/epoch   [{show(loader)}]")
    print(f"ratio_vs_plain={a / b:.3f} speedup_vs_dataloader={c / a:.2f}")
