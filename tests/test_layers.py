"""The architecture as a test: the packages form layers, and nothing imports upward.

config/      the bottom: imports no other reglab package
contract.py  the run folder's names: imports nothing from reglab
app/         the composition root: nothing else imports it (but reglab/__main__.py, an entry
             point like train.py)
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "reglab"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _reglab_imports(path: Path) -> set[str]:
    """Every reglab module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("reglab")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reglab"):
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


IMPORTS = {_module_name(p): _reglab_imports(p) for p in PACKAGE.rglob("*.py")}


def test_the_modules_were_found():
    assert {"reglab.app.train", "reglab.config.signatures", "reglab.contract"} <= set(IMPORTS)


def test_nothing_outside_the_composition_root_imports_it():
    upward = {
        (module, name)
        for module, names in IMPORTS.items()
        # reglab.__main__ (python -m reglab) is an entry point, as train.py
        if not module.startswith("reglab.app") and module != "reglab.__main__"
        for name in names
        if name.startswith("reglab.app")
    }
    assert not upward


def test_config_is_the_bottom_layer():
    upward = {
        (module, name)
        for module, names in IMPORTS.items()
        if module.startswith("reglab.config")
        for name in names
        if name != "reglab.config" and not name.startswith("reglab.config.")
    }
    assert not upward


def test_the_contract_depends_on_nothing():
    assert IMPORTS["reglab.contract"] == set()


def _import_graph() -> dict[str, set[str]]:
    """module -> the reglab modules it imports (`from reglab.x import Name` counts as reglab.x,
    or reglab.x.Name where that is a module)."""
    graph = {}
    for module, names in IMPORTS.items():
        graph[module] = {name for name in names if name in IMPORTS and name != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    """Imports inside functions count too: a circle hidden in a function is still a circle."""
    assert _cycles(_import_graph()) == []
