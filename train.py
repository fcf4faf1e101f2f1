"""Train one configuration: `python train.py regularizer=dropout model=mlp` (see README)."""

import sys
from pathlib import Path

# Runs from a checkout without installing the package (scripts/setup.sh installs it anyway).
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

if __name__ == "__main__":
    try:
        from reglab.extras.env_file import load_env_file
        from reglab.train import main

        load_env_file()  # .env (DATA_DIR, WANDB_*, REGLAB_*) before the config reads them
        main()
    except KeyboardInterrupt:  # Ctrl-C while importing or composing: nothing has started
        print("Interrupted during start-up, before the first epoch: nothing was trained.")
        sys.exit(1)
