"""The `extras` section of the run config: conveniences around a run, not the run itself."""

from reglab.config.base import Schema


class ExtrasConfig(Schema):
    """Their values are written in configs/extras/default.yaml (what each one does, there)."""

    print_config: bool
    ignore_warnings: bool
    enforce_tags: bool
