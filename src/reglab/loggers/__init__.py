"""Lightning loggers (config group `logger`): CSV always; W&B, TensorBoard, MLflow on demand."""

import math
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, TensorBoardLogger, WandbLogger

from reglab.loggers.mlflow import build_mlflow_logger, is_mlflow_node
from reglab.loggers.wandb import build_wandb_logger, finish_runs, finish_wandb, is_wandb_node


def build_loggers(
    entries,
    run_config: dict,
    run_name: str,
    group: str | None = None,
    id_file: Path | None = None,
    tags: list[str] = (),
    beside_others: bool = False,
) -> list[Logger]:
    """`entries`: the typed `logger` node (reglab.app.outputs_config), or None for no logger.
    `id_file`: where the W&B run id is kept; a resumed run continues the run it names.
    `tags` reach every logger; so does `run_config` (W&B config, MLflow params, TensorBoard
    hparams). `beside_others`: these loggers' runs are open beside others in this process (a
    stack's replicas): each its own W&B run, closed with `finish_runs`."""
    loggers = []
    for entry in (entries.entries() if entries is not None else {}).values():
        if entry is None:
            continue
        options = entry.arguments()  # the logger's keyword arguments
        if is_wandb_node(entry):
            if beside_others:  # its own run, wandb.run left alone (close it with finish_runs)
                options["reinit"] = "create_new"
            loggers.append(
                build_wandb_logger(options, run_config, run_name, group, id_file, list(tags))
            )
        elif is_mlflow_node(entry):
            loggers.append(build_mlflow_logger(options, run_name, list(tags)))
        else:
            loggers.append(instantiate({"_target_": entry.target, **options}))
    for logger in loggers:
        if not isinstance(logger, WandbLogger):  # W&B got the config when its run started
            logger.log_hyperparams(run_config)
    return loggers


def log_final_metrics(loggers: list[Logger], run_config: dict, record: dict) -> None:
    """The run's final numbers (metrics.json's) to every logger that keeps a run summary:
    MLflow as metrics at the last step, TensorBoard as the hparams table's metrics."""
    final = {
        k: float(v)
        for k, v in record.items()
        if "/" in k and isinstance(v, (int, float)) and math.isfinite(v)
    }
    if not final:
        return
    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(run_config, metrics={f"final/{k}": v for k, v in final.items()})
        elif not isinstance(logger, WandbLogger):  # W&B's summary has them already
            logger.log_metrics({f"final/{k}": v for k, v in final.items()})
        logger.save()


__all__ = ["build_loggers", "finish_runs", "finish_wandb", "log_final_metrics"]
