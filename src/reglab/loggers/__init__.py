"""Lightning loggers (config group `logger`): CSV always, W&B online or offline."""

from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from reglab.loggers.wandb import build_wandb_logger, finish_wandb, is_wandb_node


def build_loggers(
    nodes: DictConfig | None,
    run_config: dict,
    run_name: str,
    group: str | None = None,
    id_file: Path | None = None,
) -> list[Logger]:
    """`id_file`: where the W&B run id is kept; a resumed run continues the run it names."""
    loggers = []
    for node in (nodes or {}).values():
        if node is None:
            continue
        if is_wandb_node(node):
            options = OmegaConf.to_container(node, resolve=True)
            loggers.append(build_wandb_logger(options, run_config, run_name, group, id_file))
        else:
            loggers.append(instantiate(node))
    return loggers


__all__ = ["build_loggers", "finish_wandb"]
