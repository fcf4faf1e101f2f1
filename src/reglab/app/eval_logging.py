"""The loggers of an evaluation (`python eval.py ... logger=...`): its own logger runs, in its
own folder, linked to the training run: named `<training run's name>-eval`, grouped with it
(its sweep's group, else its run folder's name), tagged `eval`, and with the training run's
folder and W&B id in their config."""

from dataclasses import dataclass
from pathlib import Path

from lightning.pytorch.loggers import Logger

from reglab import contract
from reglab.loggers import build_loggers
from reglab.run_folder import RunFolder

EVAL_TAG = "eval"


@dataclass(frozen=True)
class TrainingRun:
    """What names the training run a checkpoint belongs to, in its loggers."""

    folder: Path
    name: str  # its logger runs' name, e.g. mlp-dropout-fashion_mnist
    group: str  # its W&B group (its sweep folder's name), else its run folder's name
    wandb_id: str | None


def training_run(ckpt: Path) -> TrainingRun:
    """The run whose checkpoints/ folder holds `ckpt` (read only)."""
    folder = ckpt.parent.parent
    run = RunFolder(folder)
    record = run.record() or {}
    choices = record.get("choices") or {}
    if all(isinstance(choices.get(g), str) for g in contract.NAME_GROUPS):
        name = "-".join(choices[g] for g in contract.NAME_GROUPS)  # as train.py names it
    else:
        name = folder.name
    replica_of = record.get("replica_of")  # seeds=N: the replicas' group is the run folder
    if replica_of:
        group = Path(replica_of).name
    elif RunFolder(folder.parent).multirun_yaml.is_file():  # a sweep's job: the sweep's group
        group = folder.parent.name
    else:
        group = folder.name
    id_file = run.wandb_id
    wandb_id = id_file.read_text().strip() if id_file.is_file() else None
    return TrainingRun(folder, name, group, wandb_id)


def build_eval_loggers(
    nodes: dict[str, dict | None] | None,
    trained: TrainingRun,
    logged_config: dict,
    output_dir: Path,
    tags: list[str],
) -> list[Logger]:
    config = logged_config | {
        "trained_run": {"folder": str(trained.folder), "wandb_id": trained.wandb_id}
    }
    return build_loggers(
        nodes,
        config,
        f"{trained.name}-{EVAL_TAG}",
        trained.group,
        RunFolder(output_dir).wandb_id,  # this evaluation's own W&B run, in its own folder
        tags=list(dict.fromkeys([*tags, EVAL_TAG])),
    )
