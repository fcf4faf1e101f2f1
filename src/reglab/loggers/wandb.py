"""Weights & Biases: online with credentials, offline without, one W&B run per job."""

import logging
import netrc
import os
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger

log = logging.getLogger(__name__)


def is_wandb_node(node) -> bool:
    return str(node.get("_target_", "")).endswith("WandbLogger")


def has_credentials() -> bool:
    """An API key in the environment or in ~/.netrc (where `wandb login` puts it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1]
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


def build_wandb_logger(
    options: dict, run_config: dict, run_name: str, group: str | None = None
) -> WandbLogger:
    options = {k: v for k, v in options.items() if not k.startswith("_")}
    mode = resolve_mode(options.pop("mode", "auto"))
    options["name"] = options.get("name") or run_name
    options["group"] = options.get("group") or group
    Path(options["save_dir"]).mkdir(parents=True, exist_ok=True)
    logger = WandbLogger(mode=mode, config=run_config, **options)
    if mode == "offline":
        run_dir = Path(logger.experiment.dir).parent
        log.info(
            "W&B offline (no credentials): run saved in %s; sync later: wandb sync %s",
            run_dir,
            run_dir,
        )
    return logger


def finish_wandb(exit_code: int = 0) -> None:
    """Closes the current W&B run so the next job of a multirun starts its own."""
    import wandb

    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)
