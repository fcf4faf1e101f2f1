"""Readable configuration errors: each names the key, what it got and what is allowed."""

from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration that would not run; raised before any data is loaded."""


def _key(loc: tuple, tags: dict[str, str] | None = None) -> str:
    """The dotted key as the user wrote it.

    pydantic puts the chosen member of a tagged union into the location: our own "tag:..."
    tags, and the `name` of a dataset/model option (dataset.toy1d.train_noise). Drop both.
    """
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("tag:"))]
    if tags and len(parts) > 1 and tags.get(parts[0]) == parts[1]:
        del parts[1]
    return ".".join(parts)


def _describe(err: dict, tags: dict[str, str]) -> str:
    key = _key(err["loc"], tags)
    kind = err["type"]
    given = err.get("input")
    if kind == "extra_forbidden":
        parent = key.rsplit(".", 1)[0] if "." in key else "<top level>"
        allowed = err.get("ctx", {}).get("allowed")
        hint = f"; allowed keys in {parent}: {allowed}" if allowed else ""
        return f"{key}: unknown key{hint}"
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "value_error":
        # Raised by our own checks, whose messages already name the key(s).
        msg = err["msg"].removeprefix("Value error, ")
        return msg if not key or msg.startswith(key.split(".")[0]) else f"{key}: {msg}"
    return f"{key}: {err['msg']} (got {given!r})"


def format_validation_error(
    exc: ValidationError, allowed_keys: dict[str, list[str]], tags: dict[str, str] | None = None
) -> str:
    """Turns a pydantic error into one line per problem, listing allowed keys for typos.

    `tags` maps a section to its chosen option's name (e.g. {"dataset": "toy1d"}).
    """
    tags = tags or {}
    lines = []
    for err in exc.errors(include_url=False):
        if err["type"] == "extra_forbidden":
            parent = _key(err["loc"][:-1], tags)
            if parent in allowed_keys:
                err = {**err, "ctx": {"allowed": ", ".join(allowed_keys[parent])}}
        lines.append("  - " + _describe(err, tags))
    return "Invalid configuration:\n" + "\n".join(lines)


class CheckpointRefused(ConfigError):
    """A checkpoint file that reglab will not load: it would run code, or is not one."""

    def __init__(self, path, why: str):
        super().__init__(f"{path}: refused: {why}")
        self.path, self.why = str(path), why
