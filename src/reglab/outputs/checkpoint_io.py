"""Checkpoints written atomically: Lightning's CheckpointIO over reglab.outputs.atomic."""

from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from reglab.outputs.atomic import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, through a temporary file: a full disk leaves the
    previous last.ckpt / best.ckpt intact instead of a truncated one."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_write(path, lambda f: torch.save(checkpoint, f))
