"""OmegaConf resolvers that configs/ uses (`${reglab.repo_root:}`, `${reglab.run_token:}`)."""

import secrets
from pathlib import Path

from omegaconf import OmegaConf

REPO_ROOT = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO_ROOT / "configs"

# One token per process: output folders named by time alone collide when two runs start in the
# same second; the token keeps them apart and stays the same for every read in one process.
_RUN_TOKEN = secrets.token_hex(3)


def register_resolvers() -> None:
    """Registers the resolvers once (safe to call again)."""
    if not OmegaConf.has_resolver("reglab.repo_root"):
        OmegaConf.register_new_resolver("reglab.repo_root", lambda: str(REPO_ROOT))
    if not OmegaConf.has_resolver("reglab.run_token"):
        OmegaConf.register_new_resolver("reglab.run_token", lambda: _RUN_TOKEN)
