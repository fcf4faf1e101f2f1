"""The command a user typed to start reglab, for the commands reglab prints back (the sweep
report's command, the best trial's command, hints in errors): `reglab-train` when installed,
`python train.py` from the checkout, `python -m reglab train` for the module form.

Torch-free.
"""

import shlex
import sys
from pathlib import Path

# each entry point as started from the checkout
_SCRIPTS = {
    "train": "python train.py",
    "eval": "python eval.py",
    "report": "python -m reglab.report",
}


def _form(argv0: str, entry: str) -> str | None:
    """`entry` started the way `argv0` (a sys.argv[0]) was, or None if it is not reglab's."""
    path = Path(argv0)
    if path.name == "__main__.py" and path.parent.name == "reglab":
        return f"python -m reglab {entry}"
    if path.name.startswith("reglab-"):
        return f"reglab-{entry}"
    if path.name in ("train.py", "eval.py"):
        return _SCRIPTS[entry]
    return None


def program(entry: str = "train") -> str:
    """How to start `entry` (train, eval, report) the way this process was started; anything
    else (a notebook, pytest) gets the checkout's form."""
    return _form(sys.argv[0] if sys.argv else "", entry) or _SCRIPTS[entry]


def program_of_command(command: str, entry: str = "train") -> str | None:
    """How to start `entry` the way a recorded command line (a run's provenance: the
    interpreter and its options, then the script or `-m module`) started reglab; None when
    it was not one of reglab's commands (e.g. a test runner)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if argv and Path(argv[0]).name.startswith("python"):
        rest = argv[1:]
        while rest and rest[0].startswith("-") and rest[0] != "-m":
            rest = rest[1:]
        if rest[:2] == ["-m", "reglab"]:
            return f"python -m reglab {entry}"
        return _form(rest[0], entry) if rest and rest[0] != "-m" else None
    return _form(argv[0], entry) if argv else None
