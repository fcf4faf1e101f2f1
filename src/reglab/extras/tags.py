"""`extras.enforce_tags=true`: ask for tags before a run or a multirun that has none.

A Hydra callback, so the question comes once, before the first job of a multirun starts.
A multirun gets the answer as a `tags=[...]` override of every job (its overrides.yaml says
so); a single run gets it in its config. Where nobody can answer (stdin is not a terminal:
CI, SLURM, a pipe) the run goes on without tags and one warning says so.
"""

import logging
import sys

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

log = logging.getLogger("reglab")


def parse_tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def ask_tags(stdin=None, stdout=None) -> list[str] | None:
    """Asks on the terminal; None when stdin is not one (nobody to ask)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    if not (hasattr(stdin, "isatty") and stdin.isatty()):
        return None
    while True:
        stdout.write("extras.enforce_tags: no tags given. Tags for this run (comma-separated): ")
        stdout.flush()
        line = stdin.readline()
        if not line:  # end of input
            return None
        tags = parse_tags(line)
        if tags:
            return tags


def _quoted(tag: str) -> str:
    return "'" + tag.replace("\\", "\\\\").replace("'", "\\'") + "'"


def tags_override(tags: list[str]) -> str:
    """A Hydra override that sets the tags, quoted so any text survives the parser."""
    return "tags=[" + ",".join(_quoted(t) for t in tags) + "]"


def _needs_tags(config: DictConfig) -> bool:
    extras = config.get("extras") or {}
    return bool(extras.get("enforce_tags", False)) and not config.get("tags")


def _no_answer() -> None:
    log.warning(
        "extras.enforce_tags=true but no tags were given and stdin is not a terminal: "
        "going on without tags (set tags=[...] on the command line)"
    )


def _tags_wanted(config: DictConfig) -> list[str] | None:
    """The tags asked for where a run needs them and has none; None: nothing to add."""
    if not _needs_tags(config):
        return None
    tags = ask_tags()
    if tags is None:
        _no_answer()
    return tags


class EnforceTags(Callback):
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        tags = _tags_wanted(config)
        if tags is not None:
            with read_write(config), open_dict(config):
                config.tags = tags  # Hydra hands this config to the run

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        tags = _tags_wanted(config)
        if tags is None:
            return
        # The sweeper reads the task overrides after this callback: every job gets the tags.
        task = config.hydra.overrides.task
        with read_write(task):  # Hydra's own node is read-only
            task.append(tags_override(tags))
