"""Conveniences around a run (config group `extras`, top-level `tags`): the config tree,
quiet libraries, tags, provenance, `.env` loading. `config` is the schema (torch-free)."""
