"""Start-up: how long reglab takes before its first line of real work, against importing
torch and Lightning, in the same run.

  reference     python -c "import torch, lightning"
  help          python train.py --help
  cfg_job       python train.py --cfg job
  config_error  python train.py regularizer.dropout=1.5   (a typo's one-line error)
  key_error     python train.py +trainer.max_epoch=3       (a Trainer key, checked by signature)

Each command runs `--rounds` times, interleaved (a noisy machine slows all of them alike); the
median counts. Prints each median and its ratio to the reference; the last line is
`startup_ratio=<worst ratio> help=<r> cfg_job=<r> config_error=<r> key_error=<r>`. The goal
(issue: start-up) is a worst ratio under 0.25.

    python scripts/bench_startup.py [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def commands(log_dir: str) -> dict[str, list[str]]:
    train = [sys.executable, str(REPO / "train.py")]
    return {
        "reference": [sys.executable, "-c", "import torch, lightning"],
        "help": [*train, "--help"],
        "cfg_job": [*train, "--cfg", "job"],
        "config_error": [*train, "regularizer.dropout=1.5"],
        "key_error": [*train, "+trainer.max_epoch=3"],
    }


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs:
        env = {**os.environ, "REGLAB_LOG_DIR": logs, "WANDB_MODE": "offline"}
        runs = commands(logs)
        for command in runs.values():  # warm the file cache: every command once, untimed
            timed(command, env)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, command in runs.items():
                times[name].append(timed(command, env))
    medians = {name: statistics.median(t) for name, t in times.items()}
    reference = medians.pop("reference")
    print(f"{'reference':<13} {reference:6.2f} s  (import torch, lightning)")
    ratios = {}
    for name, seconds in medians.items():
        ratios[name] = seconds / reference
        print(f"{name:<13} {seconds:6.2f} s  ratio {ratios[name]:.3f}")
    parts = " ".join(f"{name}={ratio:.3f}" for name, ratio in ratios.items())
    print(f"startup_ratio={max(ratios.values()):.3f} {parts}")


if __name__ == "__main__":
    main()
