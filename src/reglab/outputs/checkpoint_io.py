"""Checkpoints written atomically and read as data only.

Writing: Lightning's CheckpointIO over reglab.outputs.atomic. Reading: every read of a
checkpoint, anywhere in reglab (Lightning's restore through this CheckpointIO, resume's epoch
count, `RegLabModule.load_from_checkpoint`, eval.py), is `torch.load(weights_only=True)`:
tensors and plain containers, never a pickled object whose `__reduce__` runs code. A reglab
checkpoint holds nothing else, so nothing needs allow-listing.
"""

import contextlib
import io
import pickle
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from reglab.config.errors import CheckpointRefused
from reglab.outputs.atomic import atomic_write, write_bytes

# checkpoints at least this large are written to disk by a thread (BackgroundCheckpointIO);
# smaller ones cost less than handing them over
BACKGROUND_BYTES = 1 << 20
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


class BackgroundCheckpointIO(AtomicCheckpointIO):
    """AtomicCheckpointIO whose large checkpoints are serialized at once (a snapshot: the
    training that goes on cannot change it) and written to disk by a thread while training
    goes on: stacked replicas' state (toy1d's 30-job pack: 20 MB every validation) costs
    ~30 ms to write, of which serializing takes ~8. Writes happen one at a time, in order;
    the next save, and Lightning's teardown (the end of fit, Ctrl-C, SIGTERM), wait for the
    one in flight and raise its error (a full disk) there. After a SIGKILL the file on disk
    is the last one whose write completed (maybe the one before the last save)."""

    def __init__(self) -> None:
        super().__init__()
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight: Future | None = None

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        self.wait()
        buffer = io.BytesIO()
        with _without_crc32():
            torch.save(checkpoint, buffer)
        if buffer.tell() < BACKGROUND_BYTES:
            write_bytes(path, buffer.getbuffer())
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
        self._in_flight = self._executor.submit(write_bytes, path, buffer.getbuffer())

    def wait(self) -> None:
        """Until the write in flight (if any) is on disk; raises its error."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def teardown(self) -> None:
        try:
            self.wait()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None


@contextlib.contextmanager
def _without_crc32():
    """torch.save without a CRC-32 of each record of its zip file: torch.load never checks
    them, and computing them took 3/4 of serializing a stack's state (toy1d's 30-job pack:
    7.5 of 10 ms, 100 times a run). The file is still a zip; `unzip -t` reports CRC errors."""
    previous = torch.serialization.get_crc32_options()
    torch.serialization.set_crc32_options(False)
    try:
        yield
    finally:
        torch.serialization.set_crc32_options(previous)
