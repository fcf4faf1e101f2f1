"""A run folder's life: set aside the checkpoints of an earlier unfinished start, and leave no
folder behind a run stopped by a config or data error."""

import logging
import shutil
from pathlib import Path

from reglab import contract

log = logging.getLogger("reglab")


def set_aside_old_checkpoints(folder: Path) -> None:
    """A fresh start in a folder where an unfinished run left checkpoints (a failed sweep job
    run again, an explicit hydra.run.dir): its checkpoints move to checkpoints_previous/,
    so they are neither mixed with the new ones (Lightning would write best-v1.ckpt) nor
    lost (resume=true would have continued from them)."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    previous = folder.with_name(f"{folder.name}_previous")
    number = 1
    while previous.exists():  # an earlier set-aside stays: results are never deleted
        number += 1
        previous = folder.with_name(f"{folder.name}_previous{number}")
    folder.rename(previous)
    log.warning("Starting afresh: the checkpoints already in %s moved to %s", folder, previous)


def remove_unstarted_run(output_dir: Path) -> None:
    """A run stopped by a config or data error leaves no folder: Hydra made it (its .hydra/
    and train.log) before reglab could check anything, and the config tree was printed into
    it. Only such a folder is removed."""
    if not output_dir.is_dir():
        return
    entries = {p.name for p in output_dir.iterdir()}
    started_by_hydra = {contract.HYDRA_DIR, contract.TRAIN_LOG, contract.CONFIG_TREE_LOG}
    if entries <= started_by_hydra | {contract.LOCK}:
        shutil.rmtree(output_dir, ignore_errors=True)
