"""Config sections that name a class with `_target_` and give its keyword arguments
(`optimizer`, `trainer`, a user's `model` or `dataset`): the keywords are checked against the
class's signature, read without importing it (reglab.config.signatures)."""

import difflib
from collections.abc import Iterable

from pydantic import ConfigDict, Field

from reglab.config.base import Schema
from reglab.config.signatures import TargetError, signature_of


def check_keywords(
    section: str,
    target: str,
    given: Iterable[str],
    supplied: Iterable[str] = (),
    reserved: Iterable[str] = (),
) -> None:
    """Raises ValueError naming the first key of `section` that `target`'s constructor does not
    take, or an argument it requires that is neither given nor `supplied` by reglab.
    `reserved`: arguments reglab passes itself, which the config may not set."""
    try:
        signature = signature_of(target)
    except TargetError as exc:
        raise ValueError(f"{section}._target_: {exc}") from None
    class_name = target.rpartition(".")[2]
    supplied, reserved = set(supplied), set(reserved)
    allowed = [n for n in signature.names if n not in supplied and n not in reserved]
    for key in given:
        if key in reserved:
            raise ValueError(f"{section}.{key}: set by reglab; configure it through its group")
        if not signature.accepts(key):
            guess = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {section}.{guess[0]}? " if guess else ""
            raise ValueError(
                f"{section}.{key}: not an argument of {class_name}; {hint}"
                f"allowed: {', '.join(allowed) or '(none)'}"
            )
    given = set(given)
    missing = [n for n in signature.required if n not in given and n not in supplied]
    if missing:
        raise ValueError(
            f"{section}.{missing[0]}: {class_name} requires it; set {section}.{missing[0]}=..."
        )


class TargetConfig(Schema):
    """`_target_` plus keyword arguments; subclasses say which keys reglab supplies or reads."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    target: str = Field(alias="_target_", min_length=1)

    def keywords(self) -> dict:
        """The constructor's keyword arguments (everything but reglab's own keys)."""
        return dict(self.model_extra or {})
