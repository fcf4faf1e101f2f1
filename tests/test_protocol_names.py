"""The engine composes regularizers without knowing their names: the composer, the hooks, the
LightningModule and the model builders read no regularizer's key (checked with `ast`), so a
regularizer added to `kinds/` needs no edit there."""

import ast
from pathlib import Path

from reglab.regularizers.config import RegularizerConfig

SRC = Path(__file__).resolve().parents[1] / "src" / "reglab"
ENGINE = [
    SRC / "regularizers" / "regularization.py",
    SRC / "regularizers" / "hooks.py",
    SRC / "lit" / "module.py",
    *sorted((SRC / "models").glob("*.py")),
]
KEYS = set(RegularizerConfig.model_fields)


def named_keys(source: str, keys: set[str]) -> list[tuple[int, str]]:
    """(line, key) where the code reads a regularizer key: `x.<key>` or the string '<key>'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in keys:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Constant) and node.value in keys:
            found.append((node.lineno, node.value))
    return found


def test_the_checker_finds_a_key_read_by_name():
    source = "def f(cfg):\n    return cfg.l2 + getattr(cfg, 'dropout')\n"
    assert sorted(named_keys(source, KEYS)) == [(2, "dropout"), (2, "l2")]


def test_the_engine_names_no_regularizer():
    found = [
        f"{path.relative_to(SRC)}:{line}: {key}"
        for path in ENGINE
        for line, key in named_keys(path.read_text(), KEYS)
    ]
    assert not found, "\n".join(found)
