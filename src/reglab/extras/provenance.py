"""Where a run's numbers came from: the code (git commit, dirty tree), the command, the
library versions. Goes into metrics.json and every logger's config."""

import shlex
import subprocess
import sys
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from reglab.config.resolvers import project_root

PACKAGES = ("torch", "lightning", "hydra-core", "omegaconf", "torchmetrics", "wandb", "reglab")


def _git(*args: str, cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or not a checkout (an installed package)
    return out.stdout


@cache
def git_state(root: Path | None = None) -> dict:
    """{commit, dirty}: dirty = tracked files differ from the commit (untracked files, such as
    logs/ or a local config, do not count). Both null outside a git checkout."""
    root = root or project_root()
    commit = _git("rev-parse", "HEAD", cwd=root)
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no", cwd=root)
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


MODULES = {"hydra-core": "hydra"}  # distribution name -> import name, where they differ


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """The version each package reports when imported (torch's includes the build, e.g.
    2.14.1+cu130, which its distribution metadata leaves out), else its metadata's."""
    versions = {"python": sys.version.split()[0]}
    for name in names:
        module = sys.modules.get(MODULES.get(name, name))
        reported = getattr(module, "__version__", None)
        try:
            versions[name] = str(reported) if reported else version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def command_line() -> str:
    """The command as typed (interpreter included), quoted so it can be pasted back."""
    argv = getattr(sys, "orig_argv", None) or [sys.executable, *sys.argv]
    return shlex.join(argv)


def provenance() -> dict:
    # Computed per run, not cached: a sweep in one process edits nothing, but a notebook might.
    git_state.cache_clear()
    return {"git": git_state(), "command": command_line(), "versions": package_versions()}
