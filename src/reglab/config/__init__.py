"""The bottom layer: the schema base class, configuration errors, resolvers, composing a
config in Python, and reading constructor signatures. Imports neither torch nor Lightning,
nor any other reglab package.

The whole run's schema is `reglab.app.settings` (it gathers every group's schema).
"""

from reglab.config.errors import ConfigError
from reglab.config.resolvers import CONFIG_DIR, project_root, register_resolvers

__all__ = ["CONFIG_DIR", "ConfigError", "project_root", "register_resolvers"]
