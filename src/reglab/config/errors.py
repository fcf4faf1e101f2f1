"""Readable configuration errors: each names the key, what it got and what is allowed."""

from pydantic import ValidationError


class ConfigError(ValueError):
    """A configuration that would not run; raised before any data is loaded."""


def _key(loc: tuple) -> str:
    # pydantic puts the discriminator value (e.g. 'mlp') into the location of a tagged union:
    # drop it, so the key reads as the user wrote it (model.hidden, not model.mlp.hidden).
    parts = [str(p) for p in loc if not (isinstance(p, str) and p.startswith("tag:"))]
    return ".".join(parts)


def _describe(err: dict) -> str:
    key = _key(err["loc"])
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


def format_validation_error(exc: ValidationError, allowed_keys: dict[str, list[str]]) -> str:
    """Turns a pydantic error into one line per problem, listing allowed keys for typos."""
    lines = []
    for err in exc.errors(include_url=False):
        if err["type"] == "extra_forbidden":
            parent = _key(err["loc"][:-1])
            if parent in allowed_keys:
                err = {**err, "ctx": {"allowed": ", ".join(allowed_keys[parent])}}
        lines.append("  - " + _describe(err))
    return "Invalid configuration:\n" + "\n".join(lines)
