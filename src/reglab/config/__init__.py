"""Configuration: resolvers used by configs/, the schema base class and errors.

The full run schema lives in `reglab.config.schema` (it imports every group's module).
"""

from reglab.config.errors import ConfigError
from reglab.config.resolvers import CONFIG_DIR, REPO_ROOT, register_resolvers

__all__ = ["CONFIG_DIR", "REPO_ROOT", "ConfigError", "register_resolvers"]
