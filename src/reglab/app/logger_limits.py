"""What the chosen loggers accept as tags and names, checked with the config (torch-free).

W&B refuses a tag longer than 64 characters, a project name over 128 characters or with
/ \\ # ? % : in it, and a mode (logger.wandb.mode, WANDB_MODE) it does not know; MLflow makes
each tag a tag key (reglab.loggers.mlflow), which may hold only letters, digits, _ - . space
: / and at most 250 characters. Found when the logger starts, each is a traceback (or, for
MLflow, an error that blames the tracking URI); here it is one line naming the value,
before anything is loaded.
"""

import os
import posixpath
import re

# reglab's own `auto`, and what wandb.init takes (logger.wandb.mode, WANDB_MODE)
WANDB_MODES = ("auto", "online", "offline", "disabled", "shared", "dryrun", "run")
WANDB_TAG_MAX = 64
WANDB_PROJECT_MAX = 128
WANDB_PROJECT_BAD = "/\\#?%:"
MLFLOW_KEY_MAX = 250
MLFLOW_KEY = re.compile(r"^[/\w.\- :]*$")


def _short(text: str) -> str:
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"


def _kind(entry) -> str | None:
    target = entry.target if entry is not None else ""
    if target.endswith("WandbLogger"):
        return "wandb"
    if target.endswith("MLFlowLogger"):
        return "mlflow"
    return None


def _wandb_problems(name: str, options: dict, tags: list[str]) -> list[str]:
    """`options`: the W&B entry's keyword arguments (a user's W&B entry is untyped)."""
    problems = []
    own = [str(t) for t in options.get("tags") or []]
    for key, values in (("tags", tags), (f"logger.{name}.tags", own)):
        for tag in values:
            if not 1 <= len(tag) <= WANDB_TAG_MAX:
                problems.append(
                    f"{key}: the tag {_short(tag)!r} is {len(tag)} characters; W&B "
                    f"(logger.{name}) takes tags of 1 to {WANDB_TAG_MAX}. Fix: shorten it"
                )
    mode = options.get("mode")
    if mode is not None and mode not in WANDB_MODES:
        problems.append(f"logger.{name}.mode={mode}: not a W&B mode; use one of {WANDB_MODES}")
    env = os.environ.get("WANDB_MODE")
    if env is not None and env not in WANDB_MODES[1:]:
        problems.append(
            f"WANDB_MODE={env!r} (environment): not a W&B mode; set it to online, offline or "
            "disabled, or unset it (W&B is online with credentials, else offline)"
        )
    project = options.get("project")
    if project is not None:
        project = str(project)
        bad = sorted({c for c in project if c in WANDB_PROJECT_BAD})
        if len(project) > WANDB_PROJECT_MAX or bad:
            why = f"has {' '.join(bad)} in it" if bad else f"is {len(project)} characters"
            problems.append(
                f"logger.{name}.project={_short(project)}: {why}; W&B takes project names of "
                f"at most {WANDB_PROJECT_MAX} characters, without {' '.join(WANDB_PROJECT_BAD)}"
            )
    return problems


def _mlflow_problems(name: str, tags: list[str]) -> list[str]:
    problems = []
    for tag in tags:
        path_like = posixpath.normpath(tag) != tag or tag.startswith(("/", ".."))
        if not MLFLOW_KEY.match(tag) or path_like or not 1 <= len(tag) <= MLFLOW_KEY_MAX:
            problems.append(
                f"tags: the tag {_short(tag)!r} cannot be an MLflow tag key (logger.{name} "
                f"keeps each tag as one): it may hold only letters, digits, _ - . space : / "
                f"(not at either end, no //), 1 to {MLFLOW_KEY_MAX} characters. Fix: rename it"
            )
    return problems


def logger_limit_problems(loggers, tags: list[str]) -> list[str]:
    """One line per tag or name a configured logger would refuse (`loggers`: the typed
    `logger` node, reglab.app.outputs_config, or None)."""
    problems = []
    for name, entry in (loggers.entries() if loggers is not None else {}).items():
        kind = _kind(entry)
        if kind == "wandb":
            problems += _wandb_problems(name, entry.arguments(), tags)
        elif kind == "mlflow":
            problems += _mlflow_problems(name, tags)
    return problems
