"""Writes a replica's files: .hydra/, the run's curves.png, checkpoints; builds its loggers
(its metrics.csv is EpochMetricsWriter's, its logging ReplicaLoggers', as a single run's).

Every file is written atomically (reglab.outputs.atomic), as a single run's are.
"""

import io
import logging
from pathlib import Path

import lightning as L
import torch
import yaml

from reglab.loggers import build_loggers
from reglab.outputs.atomic import write_bytes, write_text
from reglab.run_folder import RunFolder, rebase_paths

log = logging.getLogger("reglab")


def write_hydra_files(folder: RunFolder, overrides: list[str], config: dict) -> None:
    """What Hydra writes into a job folder, as far as reglab's report reads it."""
    folder.hydra_dir.mkdir(parents=True, exist_ok=True)
    write_text(folder.overrides_yaml, yaml.safe_dump(overrides, sort_keys=False))
    # plain yaml, not OmegaConf.to_yaml: the config is resolved already, and 10x faster
    write_text(folder.config_yaml, yaml.safe_dump(config, sort_keys=False))


def plot_replica_curves(rows_by_seed: dict[int, list[dict]], path: Path, regression: bool) -> None:
    """One curves.png for the whole run, every replica's curves in it, a colour a seed. Not one
    per replica folder as a single run's: a figure costs ~0.5 s of matplotlib, as much as
    training 10 replicas of a small model, so N of them would undo the point of training them
    together; nothing reads curves.png but people."""
    from reglab.outputs.plots import plot_runs_curves

    runs = {f"seed {seed}": rows for seed, rows in rows_by_seed.items() if rows}
    if runs:
        plot_runs_curves(runs, path, log_loss=regression)


def checkpoint(
    module_state: dict[str, torch.Tensor],
    net_state: dict[str, torch.Tensor],
    epoch: int,
    step: int,
    hyper_parameters: dict | None = None,
    net_prefix: str = "net.",
) -> dict:
    """A checkpoint `trainer.test(ckpt_path=...)` and `RegLabModule.load_from_checkpoint`
    accept: the module's state dict (its metric states included) with this replica's network
    under `net_prefix` (where the module keeps it: `net._orig_mod.` when torch.compile wraps
    it), and the module's hyperparameters (the replica's own config: its seed, its folder)."""
    state = dict(module_state)
    state.update({f"{net_prefix}{name}": tensor for name, tensor in net_state.items()})
    return {
        "epoch": max(epoch - 1, 0),
        "global_step": step,
        "pytorch-lightning_version": L.__version__,
        "state_dict": state,
        **({"hyper_parameters": hyper_parameters} if hyper_parameters is not None else {}),
    }


def save_checkpoint(path: Path, ckpt: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    write_bytes(path, buffer.getvalue())


def replica_loggers(
    loggers_config,
    run_dir: Path,
    folder: Path,
    logged_config: dict,
    run_name: str,
    group: str | None,
    tags: list[str],
) -> list:
    """One replica's loggers (reglab.callbacks.replica_loggers logs to them): the run's
    `logger` entries with the run's folder replaced by the replica's, its own W&B run (in the
    run's group) open beside the other replicas'. `loggers_config`: the typed `logger` node
    (reglab.app.outputs_config), or None."""
    entries = loggers_config.entries() if loggers_config is not None else {}
    if not any(entries.values()):
        return []
    moved = {  # each entry's options with the run's folder replaced by the replica's
        name: entry.model_copy(update=rebase_paths(entry.arguments(), {str(run_dir): str(folder)}))
        for name, entry in entries.items()
        if entry is not None
    }
    return build_loggers(
        loggers_config.model_copy(update=moved),
        logged_config,
        run_name,
        group,
        RunFolder(folder).wandb_id,
        tags=tags,
        beside_others=True,
    )
