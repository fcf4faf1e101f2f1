"""Config sections that name a class with `_target_` and give its keyword arguments
(`optimizer`, `trainer`, a user's `model` or `dataset`): the keywords are checked against the
class's signature, read without importing it (reglab.config.signatures)."""

import difflib
from collections.abc import Iterable
from typing import Annotated, Union

from pydantic import ConfigDict, Discriminator, Field, Tag

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


class TargetSchemas:
    """The schemas of a group whose options name a class (`model`, `dataset`): a typed schema
    per built-in `_target_`, and `user` (signature-checked) for any other."""

    def __init__(self, built_in: tuple[type[TargetConfig], ...], user: type[TargetConfig]):
        self.user = user
        self.by_target = {s.model_fields["target"].annotation.__args__[0]: s for s in built_in}
        self.built_in = built_in
        members = [Annotated[s, Tag(t)] for t, s in self.by_target.items()]
        # the pydantic type of the group's node: the schema chosen by `_target_`
        self.union = Annotated[
            Union[(*members, Annotated[user, Tag("user")])],
            Discriminator(self.tag),
        ]

    def tag(self, value) -> str:
        """The union member for a node: its `_target_` if built in, else "user"."""
        target = (
            value.get("_target_") if isinstance(value, dict) else getattr(value, "target", None)
        )
        return target if target in self.by_target else "user"

    def schema_for(self, target: str | None) -> type[TargetConfig]:
        return self.by_target.get(target, self.user)
