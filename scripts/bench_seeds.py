"""N seeds as N single runs vs one `seeds=N` run, in one process (no interpreter start-up).

  toy1d  the course's 1-200-200-200-1 MLP on 10 points, weight decay 1e-2, SGD momentum 0.9,
         2,000 full-batch epochs, validation every 20 (`experiment=toy1d_weight_decay
         regularizer.weight_decay=0.01`), N=10
  poly   d2l 4.4's right fit, 400 epochs of 10 steps (`experiment=poly_fit
         +case/poly_fit=right`), N=10
  mlp    Fashion-MNIST (real, from DATA_DIR), the default 784-256-256-10 MLP with
         `regularizer=dropout`, batch 256, on a seeded training subset (`dataset.train_size`,
         --mlp-train, default 20,000 images; validation 5,000, test 10,000 as usual),
         --mlp-epochs epochs (default 2), N=5

Each timing is the whole `reglab.app.job.run(cfg)` call: building, training, validation, test
and every file a run writes, with `logger=csv` (no W&B start-up in either). The speedup is
the summed time of the N single runs (seeds 0..N-1) over the time of one `seeds=N` run.
Last line: `seeds_speedup_toy1d=<a> seeds_speedup_poly=<b> seeds_speedup_mlp=<c>`.

    DATA_DIR=/work/shared/data python scripts/bench_seeds.py [--workload toy1d,poly,mlp]
        [--mlp-train 10000] [--mlp-epochs 2] [--threads 1] [--compile]

--compile: every run with `hardware.compile=true` (torch.compile; a single run and a
`seeds=N` run first fill inductor's cache, as earlier runs on the machine would).
"""

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from reglab.app.job import run  # noqa: E402
from reglab.config.compose import compose_config  # noqa: E402

WORKLOADS = {
    "toy1d": (["experiment=toy1d_weight_decay", "regularizer.weight_decay=0.01"], 10),
    "poly": (["experiment=poly_fit", "+case/poly_fit=right"], 10),
    "mlp": (["regularizer=dropout", "dataset.batch_size=256", "callbacks.progress_bar=null"], 5),
}
EVERY_RUN: list[str] = []  # overrides of --threads and --compile
QUIET = ["logger=csv", "extras.print_config=false"]


def timed_run(overrides: list[str], folder: Path) -> float:
    cfg = compose_config([*overrides, *QUIET, *EVERY_RUN], folder)
    start = time.perf_counter()
    run(cfg)
    return time.perf_counter() - start


def measure(name: str, overrides: list[str], n: int, tmp: Path) -> tuple[float, float]:
    """(total of N single runs, one seeds=N run) in seconds."""
    timed_run([*overrides, "seed=0"], tmp / f"{name}_warmup")  # imports, caches, data load
    if "hardware.compile=true" in EVERY_RUN:  # inductor's cache of the stacked graphs too
        timed_run([*overrides, "seed=0", f"seeds={n}"], tmp / f"{name}_warmup_replicas")
    singles = sum(
        timed_run([*overrides, f"seed={seed}"], tmp / f"{name}_single{seed}") for seed in range(n)
    )
    replicas = timed_run([*overrides, "seed=0", f"seeds={n}"], tmp / f"{name}_replicas")
    return singles, replicas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="toy1d,poly,mlp")
    parser.add_argument("--mlp-train", type=int, default=20_000, help="training images")
    parser.add_argument("--mlp-epochs", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="hardware.threads for every run (default: reglab's, the cores); on a machine "
        "other jobs share, 1 avoids threads spinning against them",
    )
    parser.add_argument(
        "--compile", action="store_true", help="hardware.compile=true for every run"
    )
    args = parser.parse_args()
    if args.compile:
        EVERY_RUN.append("hardware.compile=true")
    if args.threads:
        EVERY_RUN.append(f"hardware.threads={args.threads}")
    logging.getLogger("reglab").setLevel(logging.WARNING)
    logging.getLogger("lightning").setLevel(logging.WARNING)
    speedups = {}
    for name in args.workload.split(","):
        overrides, n = WORKLOADS[name]
        if name == "mlp":
            if "DATA_DIR" not in os.environ:
                sys.exit("mlp: set DATA_DIR to the folder holding FashionMNIST/raw")
            overrides = [
                *overrides,
                f"dataset.train_size={args.mlp_train}",
                f"trainer.max_epochs={args.mlp_epochs}",
            ]
        with tempfile.TemporaryDirectory() as tmp:
            singles, replicas = measure(name, overrides, n, Path(tmp))
        speedups[name] = singles / replicas
        print(
            f"{name}: {n} single runs {singles:.2f} s ({singles / n:.2f} s each), "
            f"seeds={n} {replicas:.2f} s: speedup {speedups[name]:.2f}",
            flush=True,
        )
    print(" ".join(f"seeds_speedup_{name}={value:.2f}" for name, value in speedups.items()))


if __name__ == "__main__":
    main()
