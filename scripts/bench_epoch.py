"""Time one training epoch (plus validation) three ways, in one process, and print ratios.

  (a) reglab: `train.py`'s own path (Lightning, in-memory batches, checkpoints, metrics
              files; no progress bar), also with `dropout_impl=torch` (a') to separate the
              framework's overhead from reglab's faster CPU dropout
  (b) plain:  a hand-written PyTorch loop over the same in-memory tensors (the reference)
  (c) loader: torchvision's FashionMNIST + ToTensor + DataLoader(num_workers=4), as d2l's
              `load_data_fashion_mnist`

Model: the d2l MLP 784-256-256-10 with dropout 0.2/0.5, SGD lr 0.5, batch 256. Uses the real
Fashion-MNIST under $DATA_DIR when it is there, otherwise random data of the same shape.
The last line is `ratio_vs_plain=<a/b> speedup_vs_dataloader=<c/a>`.

    python scripts/bench_epoch.py --epochs 3
    python scripts/bench_epoch.py --model lenet --dataset cifar10   (see bench_images.py)
"""

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import reglab.data.fashion_mnist as fm  # noqa: E402
from reglab.data.idx import write_idx  # noqa: E402
from reglab.data.locate import split_train_val  # noqa: E402

BATCH, LR, HIDDEN, DROPOUT, VAL = 256, 0.5, (256, 256), (0.2, 0.5), 5000


def load_images(data_dir: Path | None):
    """(train images, train labels) as uint8 / int64 tensors; real data when available."""
    files = fm.find_files(data_dir) if data_dir else None
    if files:
        arrays = fm.load_arrays(files)
        images, labels = arrays["train_images"].copy(), arrays["train_labels"].astype("int64")
        return torch.from_numpy(images), torch.from_numpy(labels), "real Fashion-MNIST"
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (60000, 28, 28), dtype=torch.uint8, generator=g)
    return images, torch.randint(0, 10, (60000,), generator=g), "random data, Fashion-MNIST shape"


def d2l_mlp() -> nn.Module:
    layers, width = [nn.Flatten()], 784
    for size, p in zip(HIDDEN, DROPOUT, strict=True):
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(p)]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, 10))


def train_epochs(net, train_batches, val_batches, epochs: int, **sgd) -> list[float]:
    """The reference loop; `*_batches()` yield (float inputs, labels). Returns epoch seconds."""
    optimizer = torch.optim.SGD(net.parameters(), **({"lr": LR} | sgd))
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for epoch in range(epochs):
        start = time.perf_counter()
        net.train()
        for x, y in train_batches(epoch):
            loss = loss_fn(net(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        net.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val_batches():
                correct += (net(x).argmax(1) == y).sum().item()
        times.append(time.perf_counter() - start)
    return times


def bench_plain(images, labels, train_idx, val_idx, epochs):
    x_train, y_train = images[train_idx].unsqueeze(1), labels[train_idx]
    x_val, y_val = images[val_idx].unsqueeze(1), labels[val_idx]

    def prep(x):
        return (x.float() / 255 - fm.MEAN[0]) / fm.STD[0]

    def train_batches(epoch):
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), BATCH):
            idx = order[i : i + BATCH]
            yield prep(x_train[idx]), y_train[idx]

    def val_batches():
        for i in range(0, len(x_val), 1024):
            yield prep(x_val[i : i + 1024]), y_val[i : i + 1024]

    torch.manual_seed(0)
    return train_epochs(d2l_mlp(), train_batches, val_batches, epochs)


def bench_dataloader(images, labels, train_idx, val_idx, epochs, workers):
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    with tempfile.TemporaryDirectory() as root:
        raw = Path(root) / fm.SUBDIR
        raw.mkdir(parents=True)
        # torchvision reads the decompressed official files; write them from the same arrays.
        write_idx(raw / fm.FILES["train_images"], images.numpy())
        write_idx(raw / fm.FILES["train_labels"], labels.numpy().astype("uint8"))
        write_idx(raw / fm.FILES["test_images"], images[:10].numpy())
        write_idx(raw / fm.FILES["test_labels"], labels[:10].numpy().astype("uint8"))
        transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize(fm.MEAN, fm.STD)]
        )
        full = datasets.FashionMNIST(root, train=True, transform=transform, download=False)
        train_set, val_set = Subset(full, train_idx.tolist()), Subset(full, val_idx.tolist())

        def train_batches(epoch):
            return DataLoader(train_set, BATCH, shuffle=True, num_workers=workers)

        def val_batches():
            return DataLoader(val_set, 1024, shuffle=False, num_workers=workers)

        torch.manual_seed(0)
        return train_epochs(d2l_mlp(), train_batches, val_batches, epochs)


def bench_reglab(data_dir: Path | None, images, labels, epochs, extra: tuple[str, ...] = ()):
    """Runs reglab's training path; epoch times come from its own metrics.csv (epoch_s)."""
    from reglab.app.job import run
    from reglab.config.compose import compose_config

    with tempfile.TemporaryDirectory() as tmp:
        if data_dir is None or not fm.find_files(data_dir):
            data_dir = Path(tmp) / "data"
            raw = data_dir / fm.SUBDIR
            raw.mkdir(parents=True)
            for key, array in (("train_images", images), ("train_labels", labels)):
                write_idx(raw / fm.FILES[key], array.numpy().astype("uint8"))
            write_idx(raw / fm.FILES["test_images"], images[:1000].numpy())
            write_idx(raw / fm.FILES["test_labels"], labels[:1000].numpy().astype("uint8"))
        out = Path(tmp) / "run"
        cfg = compose_config(
            [
                "regularizer=dropout",
                f"optimizer.lr={LR}",
                f"dataset.batch_size={BATCH}",
                f"trainer.max_epochs={epochs}",
                f"paths.data_dir={data_dir}",
                f"paths.cache_dir={tmp}/cache",
                *(() if any(e.startswith("logger=") for e in extra) else ("logger=csv",)),
                "test=false",
                "callbacks.progress_bar=null",
                *extra,
            ],
            out,
        )
        start = time.perf_counter()
        run(cfg)
        total = time.perf_counter() - start
        with open(out / "metrics.csv") as f:
            times = [float(row["epoch_s"]) for row in csv.DictReader(f)]
    return times, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed run")
    parser.add_argument(
        "--rounds", type=int, default=3, help="(b) and (a) alternate this many times (noise)"
    )
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers for (c)")
    parser.add_argument("--skip-dataloader", action="store_true")
    parser.add_argument(
        "--model", choices=("mlp", "lenet"), default="mlp", help="lenet: see bench_images.py"
    )
    parser.add_argument("--dataset", choices=("fashion_mnist", "cifar10"), default=None)
    parser.add_argument(
        "--augment-only", action="store_true", help="(lenet/cifar10) time the augmentation alone"
    )
    args = parser.parse_args()
    if args.model == "lenet" or args.dataset == "cifar10":
        import bench_images  # LeNet on CIFAR-10-shaped data with augmentation

        bench_images.main(args)
        return

    data_dir = Path(os.environ["DATA_DIR"]) if os.environ.get("DATA_DIR") else None
    images, labels, source = load_images(data_dir)
    train_idx, val_idx = split_train_val(len(images), VAL, seed=0)
    print(
        f"data: {source}; {len(train_idx)} train / {len(val_idx)} val; "
        f"torch threads {torch.get_num_threads()}; {args.rounds} rounds x {args.epochs} epochs"
    )
    # Shared machines are noisy: alternate the two fast paths and compare medians.
    plain, reglab, reglab_torch, totals = [], [], [], []
    for _ in range(args.rounds):
        plain += bench_plain(images, labels, train_idx, val_idx, args.epochs)
        times, total = bench_reglab(data_dir, images, labels, args.epochs)
        reglab += times
        totals.append(total)
        # Like for like with (b): PyTorch's own dropout kernel, so only the framework differs.
        times, _ = bench_reglab(
            data_dir, images, labels, args.epochs, ("regularizer.dropout_impl=torch",)
        )
        reglab_torch += times
    loader = (
        [float("nan")]
        if args.skip_dataloader
        else bench_dataloader(images, labels, train_idx, val_idx, args.epochs, args.workers)
    )
    a, b, c = (statistics.median(t) for t in (reglab, plain, loader))
    a_torch = statistics.median(reglab_torch)

    def show(times):
        return " ".join(f"{t:.3f}" for t in times)

    print(f"(a) reglab      median {a:6.3f} s/epoch   [{show(reglab)}]")
    print(f"    whole reglab run incl. start-up, data loading, test: {show(totals)} s")
    print(f"(a') reglab, dropout_impl=torch  {a_torch:6.3f} s/epoch   [{show(reglab_torch)}]")
    print(f"    framework overhead alone (a'/b): {a_torch / b:.3f}")
    print(f"(b) plain loop  median {b:6.3f} s/epoch   [{show(plain)}]")
    print(f"(c) DataLoader  median {c:6.3f} s/epoch   [{show(loader)}]")
    print(f"ratio_vs_plain={a / b:.3f} speedup_vs_dataloader={c / a:.2f}")


if __name__ == "__main__":
    main()
