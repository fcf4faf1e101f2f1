"""What a run does first, once its settings are validated and its data found."""

import logging
from pathlib import Path

from reglab.extras.config import ExtrasConfig
from reglab.extras.config_tree import print_config_tree
from reglab.extras.warnings import silence_known_warnings

log = logging.getLogger("reglab")


def start_extras(settings: dict, extras: ExtrasConfig, output_dir: Path) -> None:
    """`settings`: the validated config as a plain dict (what the config tree shows)."""
    if extras.ignore_warnings:
        silence_known_warnings()
    if extras.print_config:
        path = print_config_tree(settings, output_dir)
        log.info("Config tree: %s", path)
