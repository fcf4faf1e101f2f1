"""Conveniences around a run (config group `extras`, top-level `tags`): the config tree,
quiet libraries, tags, provenance, `.env` loading."""

import logging
from pathlib import Path

from omegaconf import DictConfig

from reglab.extras.config import ExtrasConfig
from reglab.extras.config_tree import print_config_tree
from reglab.extras.provenance import provenance
from reglab.extras.warnings import silence_known_warnings

log = logging.getLogger("reglab")


def start_extras(cfg: DictConfig, extras: ExtrasConfig, output_dir: Path) -> None:
    """What a run does first, after its config is validated."""
    if extras.ignore_warnings:
        silence_known_warnings()
    if extras.print_config:
        path = print_config_tree(cfg, output_dir)
        log.info("Config tree: %s", path)


__all__ = ["ExtrasConfig", "provenance", "start_extras"]
