"""Checkpoints written atomically and read as data only.

Writing: Lightning's CheckpointIO over reglab.outputs.atomic. Reading: every read of a
checkpoint, anywhere in reglab (Lightning's restore through this CheckpointIO, resume's epoch
count, `RegLabModule.load_from_checkpoint`, eval.py), is `torch.load(weights_only=True)`:
tensors and plain containers, never a pickled object whose `__reduce__` runs code. A reglab
checkpoint holds nothing else, so nothing needs allow-listing.
"""

import pickle
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from reglab.config.errors import CheckpointRefused
from reglab.outputs.atomic import atomic_write

CODE_INSIDE = (
    "it holds Python objects beyond tensors and plain data ({detail}); loading them could run "
    "code, and a checkpoint reglab wrote never holds any. Load only checkpoints you trust"
)
NOT_A_CHECKPOINT = "not a checkpoint of a reglab run (one written by train.py): {detail}"


def refusal(path: str | Path, exc: BaseException) -> CheckpointRefused:
    """Why torch.load(weights_only=True) could not read `path`, as one line."""
    text = str(exc)
    if isinstance(exc, FileNotFoundError):
        return CheckpointRefused(path, "no such file")
    if isinstance(exc, pickle.UnpicklingError) and "GLOBAL" in text:
        start = text.find("GLOBAL")  # torch names the first global it refused
        detail = text[start:].split()[:2]
        return CheckpointRefused(path, CODE_INSIDE.format(detail=" ".join(detail)))
    if isinstance(exc, EOFError) or not text.strip():
        detail = "an empty or cut-off file"
    elif "WeightsUnpickler error:" in text:
        detail = text.split("WeightsUnpickler error:")[1].strip().splitlines()[0]
    else:
        detail = text.strip().splitlines()[0][:200]
    return CheckpointRefused(
        path, NOT_A_CHECKPOINT.format(detail=f"{type(exc).__name__}, {detail}")
    )


def read_checkpoint(
    path: str | Path, map_location: Any = "cpu", mmap: bool = False
) -> dict[str, Any]:
    """The checkpoint at `path` as data; CheckpointRefused (one line naming the file) when it
    holds code, is no checkpoint, or cannot be read. `mmap`: tensors stay on disk until read
    (to look at a few keys of a large file)."""
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as exc:  # code inside, not a torch file, cut off, a folder, ...
        raise refusal(path, exc) from None
    if not isinstance(checkpoint, dict):
        raise CheckpointRefused(path, f"not a checkpoint: it holds a {type(checkpoint).__name__}")
    return checkpoint


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, through a temporary file: a full disk leaves the
    previous last.ckpt / best.ckpt intact instead of a truncated one. Its reader loads data
    only, whatever Lightning asks for (`fit(ckpt_path=...)` restores through it)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_write(path, lambda f: torch.save(checkpoint, f))

    def load_checkpoint(self, path, map_location: Any = None, weights_only: Any = None) -> dict:
        return read_checkpoint(path, map_location=map_location)
