"""`.env` loading: per-machine environment (DATA_DIR, WANDB_*, REGLAB_*) kept out of git.

The project's `.env` (the checkout, or the current folder) is read before the config is
composed, so `${oc.env:DATA_DIR}` and W&B see its values. Variables already set in the
environment win over the file.
`REGLAB_ENV_FILE` names another file.
"""

import logging
import os
from pathlib import Path

from dotenv import dotenv_values

from reglab.config.resolvers import project_root

log = logging.getLogger(__name__)


def load_env_file(path: str | Path | None = None) -> dict[str, str]:
    """Sets the variables of the file that the environment does not set; returns those set."""
    path = Path(path or os.environ.get("REGLAB_ENV_FILE") or project_root() / ".env")
    if not path.is_file():
        if os.environ.get("REGLAB_ENV_FILE"):  # named explicitly: a missing file is a mistake
            raise SystemExit(f"REGLAB_ENV_FILE={path}: no such file")
        return {}
    loaded = {}
    for key, value in dotenv_values(path).items():
        if value is not None and key not in os.environ:
            os.environ[key] = loaded[key] = value
    return loaded
