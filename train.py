"""Train one configuration: `python train.py regularizer=dropout model=mlp` (see README).
The same as the console script `reglab-train`."""

import sys
from pathlib import Path

# Runs from a checkout without installing the package (scripts/setup.sh installs it anyway).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

if __name__ == "__main__":
    from reglab.app.cli import train_process

    train_process()
