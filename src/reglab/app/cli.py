"""The command lines: `reglab-train` (= `python train.py`), `reglab-eval` (= `python eval.py`)
and `reglab-report` (= `python -m reglab.report`).

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


@hydra.main(config_path=CONFIG_PACKAGE, config_name="train", version_base="1.3")
def train_job(cfg: DictConfig) -> float | None:
    from reglab.app.job import handle_run

    return handle_run(cfg)


@hydra.main(config_path=CONFIG_PACKAGE, config_name="eval", version_base="1.3")
def eval_job(cfg: DictConfig) -> None:
    from reglab.app.evaluate import handle_eval

    handle_eval(cfg)


def _start(job: Callable[[], object], entry: str) -> None:
    from reglab.app.help import help_text, wants_help

    if wants_help(sys.argv[1:]):  # Hydra's --help composes the config once per option
        print(help_text(entry, sys.argv[1:]))
        return
    # A user's package in the folder they run from is importable, as with `python -m`;
    # appended, so an installed package of the same name wins.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
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


def train() -> None:
    """`reglab-train <overrides>`: train one configuration, or a sweep with -m."""
    _start(train_job, "train")


def evaluate() -> None:
    """`reglab-eval ckpt_path=PATH [split=val]`: evaluate a checkpoint."""
    _start(eval_job, "eval")


def report() -> None:
    """`reglab-report <sweep dir>`: (re)build a sweep's summary, figures and report."""
    from reglab.report.__main__ import main

    sys.exit(main())
