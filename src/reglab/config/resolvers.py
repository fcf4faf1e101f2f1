"""Where reglab's configs and a project's files live, and the OmegaConf resolvers the configs
use (`${reglab.project_root:}`, `${reglab.run_token:}`)."""

import os
import secrets
from functools import cache
from pathlib import Path

from omegaconf import OmegaConf

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# The configs ship inside the package, so an installed reglab runs from any folder.
CONFIG_DIR = PACKAGE_DIR / "configs"
CONFIG_PACKAGE = "pkg://reglab.configs"

# One token per process: output folders named by time alone collide when two runs start in the
# same second; the token keeps them apart and stays the same for every read in one process.
# A config caches it (as Hydra's `now`), so the configs a launcher hands to other processes
# (a sweep's workers) name the folders it named; its workers take its token too.
_RUN_TOKEN = secrets.token_hex(3)


def run_token() -> str:
    return _RUN_TOKEN


def use_run_token(token: str) -> None:
    """This process names its folders with `token` (a launcher's worker: the launcher's)."""
    global _RUN_TOKEN
    _RUN_TOKEN = token


def _checkout_root() -> Path | None:
    """The source checkout this package was imported from (src/reglab), if it is one."""
    root = PACKAGE_DIR.parents[1]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "reglab"' in pyproject.read_text(errors="replace"):
        return root
    return None


@cache
def project_root() -> Path:
    """Where logs/, data/, .cache/ and .env are looked up: $REGLAB_ROOT, else the checkout
    reglab runs from (a clone, editable install), else the current folder (an installed
    package: the user's own project)."""
    if os.environ.get("REGLAB_ROOT"):
        return Path(os.environ["REGLAB_ROOT"]).expanduser().resolve()
    return _checkout_root() or Path.cwd().resolve()


def register_resolvers() -> None:
    """Registers the resolvers once (safe to call again)."""
    if not OmegaConf.has_resolver("reglab.project_root"):
        OmegaConf.register_new_resolver("reglab.project_root", lambda: str(project_root()))
    if not OmegaConf.has_resolver("reglab.run_token"):
        OmegaConf.register_new_resolver("reglab.run_token", run_token, use_cache=True)
