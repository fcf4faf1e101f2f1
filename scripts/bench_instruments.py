"""What the instruments cost: epochs of the core MLP with `callbacks=instruments` (activation
statistics, weight norms, gradient norm every 50 steps, weight/gradient histograms every
epoch, per-class accuracy) against `callbacks=default`, alternating in one process. Both log
to W&B offline, so the histograms are really built and written. Epoch time = training +
validation (`epoch_s` in metrics.csv). Last line: `instruments_ratio=<on/off>`.

    DATA_DIR=../shared/data python scripts/bench_instruments.py --epochs 2 --rounds 3
"""

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

from bench_epoch import bench_reglab as time_reglab
from bench_epoch import load_images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data_dir = Path(os.environ["DATA_DIR"]) if os.environ.get("DATA_DIR") else None
    images, labels, source = load_images(data_dir)
    print(f"data: {source}; {args.rounds} rounds x {args.epochs} epochs")
    off, on = [], []
    for _ in range(args.rounds):
        for times, callbacks in ((off, "default"), (on, "instruments")):
            epochs, _ = time_reglab(
                data_dir, images, labels, args.epochs, (f"callbacks={callbacks}", "logger=default")
            )
            times += epochs
    a, b = statistics.median(on), statistics.median(off)
    print(f"instruments off  median {b:.3f} s/epoch  [{' '.join(f'{t:.3f}' for t in off)}]")
    print(f"instruments on   median {a:.3f} s/epoch  [{' '.join(f'{t:.3f}' for t in on)}]")
    print(f"instruments_ratio={a / b:.3f}")


if __name__ == "__main__":
    main()
