"""A sweep with hydra/launcher=stacked against the basic launcher and joblib (2 jobs, 1 thread
each), in one run of this script; each time is a whole `python train.py -m ...` command
(start-up, every job's files, the sweep report). `stacked` runs one worker process a core
(hydra.launcher.n_jobs=<cores>, each on one thread, as joblib's jobs); `stacked_serial`
(not run by default) runs every pack in the launcher's process on every core.

  toy1d          experiment=toy1d_weight_decay over 10 weight decays x 3 seeds (30 jobs,
                 2,000 full-batch epochs each)
  poly           experiment=poly_fit, its 3 cases x 5 seeds (15 jobs, 400 epochs)
  dropout_table  experiment=dropout_table (8 cases x 3 seeds, Fashion-MNIST from DATA_DIR)
                 with --table-epochs epochs (the experiment's 40 take ~10 minutes stacked);
                 compared with its floor: the table's matmul arithmetic (forward and backward
                 of every training sample, forward of every validation and test-curve sample)
                 at this machine's matmul rate, measured here with torch.mm at the MLP's shapes
                 (before and after the sweeps: the faster of the two)

Last line: `sweeps_speedup_toy1d=<x> sweeps_speedup_poly=<y> dropout_table_vs_floor=<z>`
(speedups: basic launcher's time / stacked launcher's; vs_floor: stacked time / floor).
`--repeat k` runs each launcher k times, the launchers taking turns, and keeps each one's
fastest time: a busy neighbour on a shared machine slows one run, not the comparison.

    DATA_DIR=/work/shared/data python scripts/bench_sweeps.py [--workload toy1d,poly,dropout_table]
        [--table-epochs 2] [--launchers stacked,basic,joblib] [--repeat 1]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DECAYS = "0.0,0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.5"
WORKLOADS = {
    "toy1d": ["experiment=toy1d_weight_decay", f"regularizer.weight_decay={DECAYS}", "seed=0,1,2"],
    "poly": ["experiment=poly_fit", "seed=0,1,2,3,4"],
    "dropout_table": ["experiment=dropout_table"],
}
CORES = len(os.sched_getaffinity(0))
LAUNCHERS = {
    # one worker process a core, each its packs on one thread (hydra.launcher.n_jobs)
    "stacked": ["hydra/launcher=stacked", f"hydra.launcher.n_jobs={CORES}"],
    # (not run by default) every pack in this process, one after another, on every core
    "stacked_serial": ["hydra/launcher=stacked"],
    "basic": [],
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hardware.threads=1"],
}
QUIET = ["logger=csv", "extras.print_config=false"]
# Fashion-MNIST splits as dropout_table reads them: 55,000 training, 5,000 validation images;
# the test-curve callback evaluates the 10,000 test images after every epoch
TRAIN, VAL, TEST = 55_000, 5_000, 10_000
MLP = [(784, 256), (256, 256), (256, 10)]  # d2l's 784-256-256-10


def sweep_seconds(overrides: list[str], folder: Path) -> float:
    command = [sys.executable, str(REPO / "train.py"), "-m", *overrides, *QUIET]
    command.append(f"hydra.sweep.dir={folder}")
    start = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(REPO / "src")}
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return seconds


def matmul_rate(batch: int = 256, repeats: int = 20) -> float:
    """FLOP/s of torch.mm at the MLP's forward and backward shapes (the best of 3 rounds)."""
    import torch

    shapes = []
    for fan_in, fan_out in MLP:
        shapes += [(batch, fan_in, fan_out), (batch, fan_out, fan_in), (fan_in, batch, fan_out)]
    operands = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in shapes]
    flop = sum(2 * m * k * n for m, k, n in shapes) * repeats
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            for a, b in operands:
                torch.mm(a, b)
        best = max(best, flop / (time.perf_counter() - start))
    return best


def table_flop(epochs: int, jobs: int = 24) -> float:
    per_sample = sum(2 * fan_in * fan_out for fan_in, fan_out in MLP)  # forward
    per_epoch = 3 * per_sample * TRAIN + per_sample * (VAL + TEST)  # backward: twice forward
    return jobs * epochs * per_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="toy1d,poly,dropout_table")
    parser.add_argument("--launchers", default="stacked,basic,joblib")
    parser.add_argument("--table-epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="runs per launcher, the fastest kept")
    parser.add_argument("--keep", type=Path, help="keep the sweep folders here (default: deleted)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat {args.repeat}: runs per launcher, 1 or more")
    launchers = args.launchers.split(",")
    results: dict[str, dict[str, float]] = {}
    # the matmul peak: the best of before and after the sweeps (a busy hour lowers it)
    rates = [matmul_rate()] if "dropout_table" in args.workload else []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or tmp
        for name in args.workload.split(","):
            overrides = list(WORKLOADS[name])
            if name == "dropout_table":
                if "DATA_DIR" not in os.environ:
                    sys.exit("dropout_table: set DATA_DIR to the folder holding FashionMNIST/raw")
                overrides.append(f"trainer.max_epochs={args.table_epochs}")
            times: dict[str, float] = {}
            for round_ in range(args.repeat):
                for launcher in launchers:  # in turns: noise hits each launcher alike
                    folder = Path(tmp) / f"{name}_{launcher}_{round_}"
                    seconds = sweep_seconds([*overrides, *LAUNCHERS[launcher]], folder)
                    times[launcher] = min(seconds, times.get(launcher, seconds))
                    print(f"{name}: {launcher} {seconds:.1f} s", flush=True)
            results[name] = times
            if "stacked" in times:
                ratios = ", ".join(
                    f"{times[other] / times['stacked']:.2f}x vs {other}"
                    for other in launchers
                    if other != "stacked"
                )
                print(f"{name}: stacked {ratios}", flush=True)
    last = []
    for name in ("toy1d", "poly"):
        times = results.get(name, {})
        if "stacked" in times and "basic" in times:
            last.append(f"sweeps_speedup_{name}={times['basic'] / times['stacked']:.2f}")
    if "stacked" in results.get("dropout_table", {}):
        rates.append(matmul_rate())
        rate = max(rates)
        floor = table_flop(args.table_epochs) / rate
        stacked = results["dropout_table"]["stacked"]
        print(
            f"dropout_table: matmul rate {rate / 1e9:.0f} GFLOP/s (before / after: "
            f"{' / '.join(f'{r / 1e9:.0f}' for r in rates)}), floor "
            f"{table_flop(args.table_epochs) / 1e12:.2f} TFLOP = {floor:.1f} s; stacked "
            f"{stacked:.1f} s",
            flush=True,
        )
        last.append(f"dropout_table_vs_floor={stacked / floor:.2f}")
    print(" ".join(last))


if __name__ == "__main__":
    main()
