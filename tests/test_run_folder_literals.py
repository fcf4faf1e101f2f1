"""A run folder's file names and statuses are spelled in one place: reglab.contract names them,
reglab.run_folder (RunFolder) builds every path from them. An `ast` walk over every other
module of src/reglab fails, naming file:line, on a string that is one of those names, a path
made of them (".hydra/overrides.yaml"), or a piece of an f-string or `+` that builds a file
name from them (f"{stem}.ckpt", f"seed_{k}")."""

import ast
from pathlib import Path

from reglab import contract

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "reglab"
# the owners: the names, and the one object that builds paths from them
OWNERS = {"contract.py", "run_folder.py"}

NAMES = {
    contract.METRICS_JSON,
    contract.METRICS_CSV,
    contract.CHECKPOINTS,
    contract.BEST,
    contract.LAST,
    contract.ON_EXCEPTION,
    contract.FIT_JSON,
    contract.WEIGHTS_JSON,
    contract.WANDB_ID,
    contract.CURVES_PNG,
    contract.PER_CLASS_CSV,
    contract.HYDRA_DIR,
    *contract.HYDRA_FILES,
    contract.TRAIN_LOG,
    contract.CONFIG_TREE_LOG,
    contract.LOCK,
    contract.MULTIRUN_YAML,
    contract.REPLICA_PREFIX,
    *contract.STATUSES,
    *(f"{stem}{contract.CKPT_SUFFIX}" for stem in (contract.BEST, contract.LAST)),
}
# pieces of a built file name: "<x>.ckpt", "seed_<k>"
BUILDING = (contract.CKPT_SUFFIX, contract.REPLICA_PREFIX)

# (file under src/reglab, value): strings equal to a name that are not a run folder's file or
# status. Each entry says why; keep it short.
ALLOWED = {
    # test_ckpt: Literal["auto", "best", "last"]: a config value; a Literal spells its values
    # (they are contract.BEST / LAST, and app/ compares with those names)
    ("app/settings.py", contract.BEST),
    ("app/settings.py", contract.LAST),
    # the early-stopping record's key for the best score, not a file
    ("callbacks/early_stopping.py", contract.BEST),
    # the search summary's count of Optuna trials in state FAIL, not a run's status
    ("search/results.py", contract.FAILED),
    # the key of the trained run's W&B id in an evaluation's logged config, not the file
    ("app/eval_logging.py", contract.WANDB_ID),
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _names_a_file(text: str, building: bool) -> bool:
    """The string is a name, a path made of names (a glob's * aside), or, as a piece of a built
    string, ends in .ckpt / starts seed_. Prose (with spaces) only mentions names."""
    if text in NAMES:
        return True
    if not text or " " in text:
        return False
    if "/" in text and any(part in NAMES for part in text.split("/")):
        return True
    return building and (text.endswith(BUILDING[0]) or text.startswith(BUILDING[1]))


def literals(source: str, filename: str = "<source>") -> list[str]:
    """`file:line: 'value'` for each run-folder literal in `source`."""
    tree = ast.parse(source, filename)
    docstrings = _docstrings(tree)
    built = set()  # constants that are pieces of an f-string or a `+`
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            built |= {id(v) for v in node.values if isinstance(v, ast.Constant)}
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            built |= {id(v) for v in (node.left, node.right) if isinstance(v, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in docstrings:
            continue
        if _names_a_file(node.value, id(node) in built):
            found.append((node.lineno, node.value))
    return [f"{filename}:{line}: {value!r}" for line, value in sorted(found)]


def test_no_run_folder_literal_outside_its_owner():
    checked, found = 0, []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in OWNERS:
            continue
        checked += 1
        for hit in literals(path.read_text(), relative):
            value = ast.literal_eval(hit.split(": ", 1)[1])
            if (relative, value) not in ALLOWED:
                found.append(hit)
    assert checked > 100, "the modules were not found"
    assert not found, "run-folder names outside reglab.run_folder / contract:\n" + "\n".join(found)


def test_the_checker_finds_a_planted_literal():
    source = '''"""metrics.json in a docstring is prose."""
from pathlib import Path

def f(run, stem, k):
    a = Path(run) / "metrics.json"
    b = run / f"{stem}.ckpt"
    c = run / ("seed_" + str(k))
    d = run.glob("*/.hydra/overrides.yaml")
    e = {"status": "diverged"}
    log = "wrote the metrics.json of the run"  # prose: mentions a name
    return a, b, c, d, e, log
'''
    hits = literals(source, "planted.py")
    assert hits == [
        "planted.py:5: 'metrics.json'",
        "planted.py:6: '.ckpt'",
        "planted.py:7: 'seed_'",
        "planted.py:8: '*/.hydra/overrides.yaml'",
        "planted.py:9: 'diverged'",
    ]


def test_the_allowed_entries_are_still_needed():
    """An allow-list entry whose literal is gone is dropped, not kept as a blind spot."""
    used = set()
    for relative, value in ALLOWED:
        path = PACKAGE / relative
        hits = literals(path.read_text(), relative) if path.is_file() else []
        if any(ast.literal_eval(h.split(": ", 1)[1]) == value for h in hits):
            used.add((relative, value))
    assert used == ALLOWED
