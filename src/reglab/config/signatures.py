"""The keyword arguments a class takes, read from its source file without importing it.

Validating a config must not import torch or Lightning: that takes seconds, and a typo should
cost milliseconds before its one-line error. Yet the classes a config names (`trainer`,
`optimizer`, a user's `model._target_`) live in those libraries. Reading the class's
`__init__` with `ast` (following `from x import Name` re-exports) takes a few milliseconds.
Where the source does not say (a compiled module, an `__init__` inherited from a base class,
a name assigned at run time), the class is imported and inspected instead: slower, never wrong.
tests/test_signatures.py checks both ways agree on every class reglab's configs name.
"""

import ast
import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Signature:
    """What a constructor accepts by keyword."""

    names: tuple[str, ...]  # in order, without self
    required: tuple[str, ...]  # those without a default
    any_keyword: bool  # it takes **kwargs

    def accepts(self, key: str) -> bool:
        return self.any_keyword or key in self.names


class TargetError(ValueError):
    """`_target_` names nothing importable."""


@cache
def signature_of(target: str) -> Signature:
    """The constructor signature of the class `target` ("package.module.Class")."""
    module, _, name = target.rpartition(".")
    if not module:
        raise TargetError(f"{target!r} is not a dotted path (package.module.Class)")
    found = _static_signature(module, name, hops=4)
    return found if found is not None else _imported_signature(target)


def import_target(target: str):
    """The class `target` names (imports its module)."""
    module, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        raise TargetError(
            f"cannot import {target!r}: no module named {exc.name!r} (run from the folder that "
            f"holds it, add that folder to PYTHONPATH, or pip install it)"
        ) from exc
    except (ImportError, AttributeError, ValueError) as exc:
        raise TargetError(f"cannot import {target!r}: {exc}") from exc


def import_class(target: str, base: type | tuple[type, ...], what: str):
    """The class `target` names, checked to be a subclass of `base` before anything calls it.

    A `_target_` read from a file (a checkpoint's stored config) is data: naming
    `subprocess.getoutput` or `os.system` must not run it. Importing a module of this machine's
    installed packages is fine; calling an arbitrary callable is not.
    """
    found = import_target(target)
    if not (inspect.isclass(found) and issubclass(found, base)):
        raise TargetError(f"{target!r} is {kind_of(found)}, not {what}")
    return found


def kind_of(found) -> str:
    """What an imported name is, for a message: "a class", "a function", ..."""
    return "a class" if inspect.isclass(found) else f"a {type(found).__name__}"


def _imported_signature(target: str) -> Signature:
    params = inspect.signature(import_target(target)).parameters.values()
    keyword = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = tuple(p.name for p in params if p.kind in keyword)
    required = tuple(p.name for p in params if p.kind in keyword and p.default is p.empty)
    any_keyword = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params)
    return Signature(names, required, any_keyword)


def _source_file(module: str) -> Path | None:
    """The file of `module`, found without importing it or its parent packages."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    if not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder, *rest)
        for candidate in (path / "__init__.py", path.with_suffix(".py")):
            if candidate.is_file():
                return candidate
    return None


def _static_signature(module: str, name: str, hops: int) -> Signature | None:
    path = _source_file(module)
    if path is None or hops == 0:
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return _init_signature(node)
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    source = _absolute(module, path, node)
                    return _static_signature(source, alias.name, hops - 1) if source else None
    return None


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str | None:
    """The absolute module name of `from <node.module> import ...` written in `module`."""
    if node.level == 0:
        return node.module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".")
    if node.level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (node.level - 1)])
    return f"{base}.{node.module}" if node.module else base


def _init_signature(cls: ast.ClassDef) -> Signature | None:
    init = next(
        (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None
    )
    if init is None:
        return None  # inherited (or a dataclass): the import says what it is
    args = init.args
    positional = [*args.posonlyargs, *args.args][1:]  # without self
    keyword_names = [a.arg for a in args.args if a in positional] + [a.arg for a in args.kwonlyargs]
    # defaults belong to the last positional arguments; kw_defaults is None where required
    first_default = len(positional) - len(args.defaults)
    required = [a.arg for i, a in enumerate(positional) if i < first_default and a in args.args]
    required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    return Signature(tuple(keyword_names), tuple(required), args.kwarg is not None)
