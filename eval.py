"""Evaluate a checkpoint: `python eval.py ckpt_path=logs/train/runs/<run>/checkpoints/last.ckpt`
(`split=val` for the validation split). The same as the console script `reglab-eval`."""

import sys
from pathlib import Path

# Runs from a checkout without installing the package (scripts/setup.sh installs it anyway).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

if __name__ == "__main__":
    from reglab.app.cli import evaluate_process

    evaluate_process()
