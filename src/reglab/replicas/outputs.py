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
    """One curves.png for the whole run, every replica's train (solid) and validation (dashed)
    curves in it. Not one per replica folder as a single run's: a figure costs ~0.5-1 s of
    matplotlib, as much as training 10 replicas of a small model, so N of them would undo
    the point of training them together; nothing reads curves.png but people."""
    import matplotlib.pyplot as plt

    from reglab.outputs.figure_files import save_figure
    from reglab.outputs.plots import LABELS, _quantities, epoch_axis
    from reglab.report.style import loss_unit, set_scale

    names = _quantities([row for rows in rows_by_seed.values() for row in rows])
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for i, (seed, rows) in enumerate(rows_by_seed.items()):
            color = f"C{i % 10}"
            for stage, style in (("train", "-"), ("val", "--"), ("test", "--")):
                key = f"{stage}/{name}"
                points = [(row["epoch"], row[key]) for row in rows if key in row]
                if points:
                    xs, ys = zip(*points, strict=True)
                    label = f"seed {seed}" if stage == "train" else None
                    ax.plot(xs, ys, style, color=color, linewidth=0.8, label=label)
        epoch_axis(ax)
        evaluated = (
            "test" if any(f"test/{name}" in r for s in rows_by_seed.values() for r in s) else "val"
        )
        ax.set_title(f"{LABELS.get(name, name)} (train -, {evaluated} --)")
        if name == "loss":  # log where it spans decades, symmetric-log when it reaches 0
            set_scale(ax, "y", [y for line in ax.lines for y in line.get_ydata()])
            ax.set_ylabel(f"loss ({loss_unit(regression)})")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside
    save_figure(fig, path)


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
