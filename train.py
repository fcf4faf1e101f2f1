"""Train one configuration: `python train.py regularizer=dropout model=mlp` (see README)."""

import sys
from pathlib import Path

# Runs from a checkout without installing the package (scripts/setup.sh installs it anyway).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from reglab.extras.env_file import load_env_file
from reglab.train import main

if __name__ == "__main__":
    load_env_file()  # .env (DATA_DIR, WANDB_*, REGLAB_*) before the config reads them
    main()
