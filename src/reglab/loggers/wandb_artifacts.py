"""`logger.wandb.log_model=true|all`: the run's checkpoints as W&B model artifacts.

Lightning's own `log_model` names every checkpoint of a top-1 callback "best", and reglab's
`last.ckpt` comes from one (an unmonitored top-1 ModelCheckpoint). Here each checkpoint
callback gives its role: the monitored one uploads `best.ckpt` with alias `best`, the
unmonitored one `last.ckpt` with alias `last`; W&B adds `latest` to the newest version.
`true`: both once, at the end of training. `all`: every time a checkpoint is written (each
with an `epoch-<n>` alias too). Offline runs keep the artifacts for `wandb sync`.
"""

from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger

from reglab import contract


def checkpoint_role(callback: ModelCheckpoint) -> str:
    return contract.BEST if callback.monitor else contract.LAST


class CheckpointArtifactsWandbLogger(WandbLogger):
    """WandbLogger that uploads reglab's checkpoints with their roles as aliases."""

    def __init__(self, *args, upload_checkpoints: bool | str = False, **kwargs):
        if upload_checkpoints not in (False, True, "all"):
            raise ValueError(
                f"logger.wandb.log_model must be false, true or all, got {upload_checkpoints!r}"
            )
        super().__init__(*args, log_model=False, **kwargs)
        self.upload_checkpoints = upload_checkpoints
        self._pending: dict[int, ModelCheckpoint] = {}
        self._epoch: int | None = None  # the epoch of the metrics logged last

    def log_metrics(self, metrics, step=None) -> None:
        if "epoch" in metrics:  # Lightning adds it to epoch-level metrics
            self._epoch = int(metrics["epoch"])
        super().log_metrics(metrics, step)

    def after_save_checkpoint(self, checkpoint_callback: ModelCheckpoint) -> None:
        if self.upload_checkpoints == "all":
            self._upload(checkpoint_callback, every_save=True)
        elif self.upload_checkpoints:
            self._pending[id(checkpoint_callback)] = checkpoint_callback

    def finalize(self, status: str) -> None:
        if status == "success":  # after fit and after test: upload once
            pending, self._pending = list(self._pending.values()), {}
            for callback in pending:
                self._upload(callback)
        super().finalize(status)

    def _upload(self, callback: ModelCheckpoint, every_save: bool = False) -> None:
        import wandb

        path = callback.best_model_path  # the file this top-1 callback last wrote
        if not path or not Path(path).is_file():
            return
        role = checkpoint_role(callback)
        epoch = self._epoch
        score = callback.best_model_score
        metadata = {
            "role": role,
            "file": Path(path).name,
            "epoch": epoch,
            "monitor": callback.monitor,
            "score": None if score is None else float(score),
        }
        artifact = wandb.Artifact(f"model-{self.experiment.id}", type="model", metadata=metadata)
        artifact.add_file(path, name=Path(path).name)
        aliases = [role] + ([f"epoch-{epoch}"] if every_save and epoch is not None else [])
        self.experiment.log_artifact(artifact, aliases=aliases)
