"""Weights & Biases: online with credentials, offline without, one W&B run per job."""

import contextlib
import logging
import netrc
import os
import time
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger

from reglab.config.errors import ConfigError
from reglab.loggers.wandb_artifacts import CheckpointArtifactsWandbLogger
from reglab.loggers.wandb_reach import base_url, unreachable_reason

log = logging.getLogger(__name__)


def is_wandb_node(entry) -> bool:
    """`entry`: a typed `logger` entry (reglab.app.outputs_config)."""
    return entry.target.endswith("WandbLogger")


def has_credentials() -> bool:
    """An API key in the environment or in ~/.netrc (where `wandb login` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    # the host wandb itself would use (its default moved from api.wandb.ai in wandb 0.31)
    host = base_url().split("://")[-1]
    try:
        return netrc.netrc().authenticators(host.split("/")[0]) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str) -> str:
    """auto -> online with credentials, else offline. WANDB_MODE, when set, wins."""
    env = os.environ.get("WANDB_MODE")
    if env:
        return env
    if mode == "auto":
        return "online" if has_credentials() else "offline"
    return mode


def reachable_mode(mode: str, asked: str) -> str:
    """`mode` once the server was asked: an online run whose server does not answer goes
    offline with one warning when online was only the default (`auto` with credentials), and
    stops with one line when it was asked for (mode=online, WANDB_MODE=online)."""
    if mode != "online":
        return mode
    reason = unreachable_reason(base_url())
    if reason is None:
        return mode
    if asked == "auto" and not os.environ.get("WANDB_MODE"):
        log.warning(
            "W&B server %s not reachable (%s): this run logs offline, as with "
            "WANDB_MODE=offline; sync it later with `wandb sync`",
            base_url(),
            reason,
        )
        return "offline"
    raise ConfigError(
        f"W&B server {base_url()} not reachable ({reason}) and W&B is set to online. "
        "Fix: WANDB_MODE=offline (sync later with `wandb sync`), logger=csv, or check the "
        "network / WANDB_BASE_URL"
    )


def sweep_locked_keys() -> set[str]:
    """The parameter names of the W&B sweep this run belongs to (the agent passes them in
    WANDB_SWEEP_PARAM_PATH); wandb locks those config keys for the run."""
    path = os.environ.get("WANDB_SWEEP_PARAM_PATH")
    if not path or not Path(path).is_file():
        return set()
    import yaml

    return set(yaml.safe_load(Path(path).read_text()) or {})


def without_locked(run_config: dict, locked: set[str]) -> dict:
    """Moves our own sections whose names a sweep locked (e.g. `regularizer`, swept as a
    group choice) to `<name>_config`: wandb would ignore them and warn "locked by sweep"."""
    return {f"{k}_config" if k in locked else k: v for k, v in run_config.items()}


def build_wandb_logger(
    options: dict,
    run_config: dict,
    run_name: str,
    group: str | None = None,
    id_file: Path | None = None,
    tags: list[str] = (),
) -> WandbLogger:
    """`options` may hold `reinit="create_new"` (W&B's runs side by side in one process: a
    stack's replicas, each logging live): wandb.run is then left alone, so Lightning's
    WandbLogger starts a run of its own instead of reusing wandb.run. Close such runs with
    `finish_runs`."""
    options = {k: v for k, v in options.items() if not k.startswith("_")}
    asked = options.pop("mode", "auto")
    mode = reachable_mode(resolve_mode(asked), asked)
    upload_checkpoints = options.pop("log_model", False)
    options["name"] = options.get("name") or run_name
    options["group"] = options.get("group") or group
    # the run's `tags` join the logger's own (logger.wandb.tags), in order, once each
    options["tags"] = list(dict.fromkeys([*(options.get("tags") or []), *tags]))
    Path(options["save_dir"]).mkdir(parents=True, exist_ok=True)
    config = without_locked(run_config, sweep_locked_keys())
    resuming = id_file is not None and id_file.is_file()
    if resuming:  # a resumed run: the same W&B run
        options.update(id=id_file.read_text().strip(), resume="allow")
    logger = CheckpointArtifactsWandbLogger(
        mode=mode, config=config, upload_checkpoints=upload_checkpoints, **options
    )
    try:
        run = _start(logger, options.get("id") if resuming else None)
    except Exception as exc:
        if mode != "online":
            raise
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ConfigError(
            f"W&B could not start the run online ({type(exc).__name__}: {reason}). Fix: check "
            "WANDB_API_KEY (`wandb login`), or WANDB_MODE=offline to log offline"
        ) from None
    if id_file is not None:
        id_file.parent.mkdir(parents=True, exist_ok=True)
        id_file.write_text(run.id + "\n")
    if mode == "offline":
        run_dir = Path(logger.experiment.dir).parent
        # a resumed run's sessions are one folder each (offline-run-<time>-<id>): sync them all
        to_sync = run_dir.parent / f"offline-run-*-{run.id}" if resuming else run_dir
        log.info(
            "W&B offline: run saved in %s; sync later: wandb sync %s",
            run_dir,
            to_sync,
        )
    return logger


def _start(logger: WandbLogger, resumed_id: str | None, wait_s: float = 60.0):
    """Starts the W&B run. A killed run's W&B service outlives it for a few seconds and keeps
    its run id "in use": a resumed run waits for it to let go instead of failing."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with _without_anonymous_warning():
                return logger.experiment
        except Exception as exc:
            if resumed_id is None or "in use" not in str(exc) or time.monotonic() > deadline:
                raise
            log.info(
                "W&B run %s is still held by the killed run's W&B service: waiting", resumed_id
            )
            time.sleep(2)


@contextlib.contextmanager
def _without_anonymous_warning():
    """wandb warns "The anonymous setting has no effect" on every run, because Lightning's
    WandbLogger always passes `anonymous` to wandb.init: noise reglab causes. Only that
    message is dropped (wandb's console capture and its other warnings are untouched)."""
    import wandb

    original = wandb.termwarn

    def termwarn(string, *args, **kwargs):
        if "anonymous setting has no effect" not in str(string):
            original(string, *args, **kwargs)

    wandb.termwarn = termwarn
    try:
        yield
    finally:
        wandb.termwarn = original


def finish_wandb(exit_code: int = 0) -> None:
    """Closes the current W&B run so the next job of a multirun starts its own."""
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def finish_runs(loggers: list, exit_code: int = 0) -> None:
    """Closes the W&B runs of `loggers` that run beside others in this process (a stack's
    replicas: `build_loggers(..., beside_others=True)`); wandb.run is none of them."""
    for logger in loggers:
        if isinstance(logger, WandbLogger) and logger.experiment is not None:
            logger.experiment.finish(exit_code=exit_code)
