"""The `extras` section of the run config: conveniences around a run, not the run itself."""

from reglab.config.base import Schema


class ExtrasConfig(Schema):
    # Print the composed config as a tree at start and save it as config_tree.log.
    print_config: bool = True
    # Silence warnings and tips from libraries that say nothing about this run.
    ignore_warnings: bool = True
    # Ask for tags (on a terminal) before a run or multirun that has none.
    enforce_tags: bool = False
