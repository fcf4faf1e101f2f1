"""The command lines: `reglab-train` (= `python train.py`), `reglab-eval` (= `python eval.py`)
and `reglab-report` (= `python -m reglab.report`); `python -m reglab train|eval|report` runs
them as subcommands.

The configs ship inside the package (`pkg://reglab.configs`), so an installed reglab runs from
any folder; a user's own configs join with `--config-dir DIR` or `hydra.searchpath`. Imports
here are light: `--help`, `--cfg job` and a config error never import torch.
"""

import os
import sys
from collections.abc import Callable

import hydra
from omegaconf import DictConfig

from reglab.config.resolvers import CONFIG_PACKAGE, register_resolvers

register_resolvers()


def _train_job(cfg: DictConfig) -> float | None:
    from reglab.app.job import handle_run

    return handle_run(cfg)


# hydra/launcher=stacked may train this task's compatible jobs together (reglab.app.pack)
_train_job.trains_packs = True
train_job = hydra.main(config_path=CONFIG_PACKAGE, config_name="train", version_base="1.3")(
    _train_job
)


@hydra.main(config_path=CONFIG_PACKAGE, config_name="eval", version_base="1.3")
def eval_job(cfg: DictConfig) -> None:
    from reglab.app.evaluate import handle_eval

    handle_eval(cfg)


# launchers of the `cluster` extra: the option, and the plugin module it needs
CLUSTER_LAUNCHERS = {
    "slurm": "hydra_plugins.hydra_submitit_launcher",
    "submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
    "ray": "hydra_plugins.hydra_ray_launcher",
}


def missing_launcher(args: list[str]) -> str | None:
    """`hydra/launcher=slurm` (or ray) without the plugin installed: the one line to print,
    instead of Hydra's composition error about a config it cannot find."""
    import importlib.util

    for arg in args:
        key, _, option = arg.lstrip("+~").partition("=")
        if key != "hydra/launcher" or option not in CLUSTER_LAUNCHERS:
            continue
        try:
            found = importlib.util.find_spec(CLUSTER_LAUNCHERS[option]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return (
                f"hydra/launcher={option} needs the cluster extra, which is not installed: "
                "pip install 'reglab[cluster]'"
            )
    return None


def _start(job: Callable[[], object], entry: str) -> None:
    from reglab.app.help import help_text, wants_help

    if wants_help(sys.argv[1:]):  # Hydra's --help composes the config once per option
        print(help_text(entry, sys.argv[1:]))
        return
    problem = missing_launcher(sys.argv[1:])
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
    # A user's package in the folder they run from is importable, as with `python -m`;
    # appended, so an installed package of the same name wins.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    unreadable = unreadable_override(sys.argv[1:])
    if unreadable:  # Hydra would print its parser's error, which names neither key nor fix
        print(unreadable, file=sys.stderr)
        sys.exit(1)
    from reglab.app import signals

    signals.install()  # SIGTERM stops a run as Ctrl-C does (records, checkpoints, exit 1)
    try:
        from reglab.extras.env_file import load_env_file

        load_env_file()  # .env (DATA_DIR, WANDB_*, REGLAB_*) before the config reads them
        job()
    except KeyboardInterrupt as exc:  # Ctrl-C / SIGTERM while importing or composing
        how = signals.describe(exc)
        print(f"Interrupted ({how}) during start-up, before the first epoch: nothing was trained.")
        sys.exit(1)


def unreadable_override(argv: list[str]) -> str | None:
    """One line for the first override Hydra's grammar cannot read (a `=`, `(`, `{` or `#`
    inside a value, e.g. a file name), naming it and how to quote it; None when all parse."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        overrides = get_args_parser().parse_known_args(argv)[0].overrides
    except SystemExit:  # a malformed flag: Hydra's own usage message says which
        return None
    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except OverrideParseException as exc:
            reason = (str(exc).strip().splitlines() or [""])[0]
            key, sep, value = override.partition("=")
            if not sep or "'" in value:
                fix = "quote the value (Hydra's override grammar)"
            else:
                fix = (
                    f"quote the value, as in \"{key}='{value}'\" (the shell keeps the inner quotes)"
                )
            return f"Cannot read the override {override!r} ({reason}). Fix: {fix}"
    return None


def train() -> None:
    """`reglab-train <overrides>`: train one configuration, or a sweep with -m."""
    _start(train_job, "train")


def evaluate() -> None:
    """`reglab-eval ckpt_path=PATH [split=val]`: evaluate a checkpoint."""
    _start(eval_job, "eval")


# The processes' entries (train.py, eval.py, the console scripts): the command, then the
# process ends without Python's ~1 s teardown (reglab.app.process_entry). In-process callers
# (tests, notebooks) call train() / evaluate(), which return.
def train_process() -> None:
    from reglab.app.process_entry import run_command

    run_command(train)


def evaluate_process() -> None:
    from reglab.app.process_entry import run_command

    run_command(evaluate)


def report() -> None:
    """`reglab-report <sweep dir>`: (re)build a sweep's summary, figures and report."""
    from reglab.report.__main__ import main

    sys.exit(main())


USAGE = (
    "usage: python -m reglab {train,eval,report} [arguments]\n"
    "  train   train and test one configuration (-m: a sweep), as reglab-train\n"
    "  eval    evaluate a checkpoint (ckpt_path=...), as reglab-eval\n"
    "  report  (re)build a sweep folder's report, as reglab-report"
)


def module_main(argv: list[str] | None = None) -> None:
    """`python -m reglab train|eval|report ...`: the console scripts as subcommands."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        sys.exit(2 if not args else 0)
    command, rest = args[0], args[1:]
    entries = {"train": train, "eval": evaluate, "report": report}
    if command not in entries:
        print(f"python -m reglab: unknown command {command!r}\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    # Hydra and argparse read sys.argv: the subcommand's arguments, as its console script sees
    sys.argv = [sys.argv[0], *rest]
    entries[command]()
