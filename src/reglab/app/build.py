"""Builds a run's parts from its validated settings: data, module, callbacks, loggers, trainer.

Nothing here reads a raw config: every part comes from `RunConfig` (reglab.app.settings).
"""

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.loggers import Logger

from reglab.app.checks import check_monitors, has_validation_split
from reglab.app.settings import RunConfig
from reglab.callbacks import build_callbacks
from reglab.callbacks.distributed import ProcessGroupTeardown
from reglab.callbacks.seeding import EpochSeeding
from reglab.config.errors import ConfigError
from reglab.data.base import DataInfo, InMemoryDataModule
from reglab.data.build import build_datamodule
from reglab.data.protocol import apply_protocol
from reglab.lit import RegLabModule, task_for
from reglab.lit.tasks import Task
from reglab.loggers import build_loggers
from reglab.outputs.checkpoint_io import AtomicCheckpointIO
from reglab.regularizers.augment import check_images
from reglab.regularizers.regularization import Regularization
from reglab.run_folder import RunFolder


@dataclass
class RunData:
    datamodule: L.LightningDataModule
    info: DataInfo
    task: Task
    validation: bool  # a validation split exists

    @property
    def val_is_test(self) -> bool:
        """No "best" checkpoint when validation data are test data or there are none."""
        return self.info.val_is_test or not self.validation


def build_data(settings: RunConfig) -> RunData:
    """The data module, found and read (before a W&B run or a checkpoint exists)."""
    datamodule = build_datamodule(settings.dataset, seed=settings.seed)
    in_memory = isinstance(datamodule, InMemoryDataModule)
    if not in_memory and settings.protocol.name != "default":
        raise ConfigError(
            f"protocol={settings.protocol.name} needs reglab's in-memory data; "
            f"dataset._target_={settings.dataset.target} is its own LightningDataModule"
        )
    if in_memory:
        apply_protocol(datamodule, settings.protocol)
    info = datamodule.info
    task = task_for(info)
    # a monitor naming no metric: now, not after an epoch
    check_monitors(settings, task, info.val_is_test)
    datamodule.setup("fit")
    if in_memory:
        validation = has_validation_split(settings.dataset)
    else:  # a user's data module validates when it has a validation loader
        validation = type(datamodule).val_dataloader is not L.LightningDataModule.val_dataloader
    return RunData(datamodule, info, task, validation)


def module_arguments(settings: RunConfig, data: RunData) -> dict:
    """RegLabModule's arguments: the validated settings, the data set's `info` and `fused`
    (the module saves them in every checkpoint as its hyperparameters, the settings as one
    dict; `RegLabModule.load_from_checkpoint` rebuilds the module from them)."""
    info = data.info
    normalization = getattr(data.datamodule, "normalization", None)
    if normalization is not None:  # RegLabModule.predict prepares images as training did
        info = dataclasses.replace(info, mean=normalization[0], std=normalization[1])
    splits = getattr(data.datamodule, "splits", None)
    if splits is not None:  # what predict takes: images as stored, or the features as they are
        info = dataclasses.replace(info, uint8_images=splits.x_train.dtype == torch.uint8)
    return dict(
        config=settings, info=info.as_dict(), fused=getattr(data.datamodule, "fused", False)
    )


def build_module(settings: RunConfig, data: RunData) -> RegLabModule:
    """The LightningModule (its network built inside, from the settings it also saves in
    checkpoints); augmentation goes to the data module."""
    regularization = Regularization(settings.regularizer)
    if settings.regularizer.augment is not None:
        if not isinstance(data.datamodule, InMemoryDataModule):
            raise ConfigError(
                "regularizer.augment works on reglab's in-memory image data; "
                f"dataset._target_={settings.dataset.target} is its own LightningDataModule"
            )
        check_images(settings.regularizer.augment, data.info.in_shape, settings.dataset.label)
        data.datamodule.augment = regularization.augmentation(settings.seed)
    return RegLabModule(**module_arguments(settings, data))


def build_run_loggers(
    settings: RunConfig, logged_config: dict, run_name: str, sweep_name: str | None
) -> list[Logger]:
    output_dir = Path(settings.paths.output_dir)
    return build_loggers(
        settings.logger,
        logged_config,
        run_name,
        sweep_name,
        RunFolder(output_dir).wandb_id,
        tags=settings.tags,
    )


def build_trainer(
    settings: RunConfig,
    data: RunData,
    regularization_callbacks: list[L.Callback],
    loggers: list[Logger],
) -> L.Trainer:
    # without a validation split there is no "best" checkpoint: last.ckpt only
    entries = settings.callbacks.entries() if settings.callbacks is not None else {}
    callbacks = build_callbacks(entries, data.task, data.val_is_test)
    callbacks += regularization_callbacks
    callbacks += [EpochSeeding(settings.seed), ProcessGroupTeardown()]
    # Lightning adds a progress bar of its own unless told not to: `callbacks.progress_bar=null`
    # must mean no bar.
    show_bar = any(isinstance(c, ProgressBar) for c in callbacks)
    no_validation = {} if data.validation else {"limit_val_batches": 0}  # no loop, no warnings
    # instantiate: a trainer argument may itself name a class (debug=profiler's profiler)
    return instantiate(
        {"_target_": settings.trainer.target, **settings.trainer.arguments(), **no_validation},
        callbacks=callbacks,
        logger=loggers or False,
        enable_progress_bar=show_bar,
        plugins=[AtomicCheckpointIO()],  # a full disk never leaves half a checkpoint
    )
