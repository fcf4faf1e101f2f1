"""Which checkpoint a run continues from: `resume=true` or `ckpt_path=...`.

`python train.py <same overrides> resume=true` finds the most recent earlier run with the same
overrides (in any order) that did not complete (killed, interrupted, crashed) and continues
it from its `checkpoints/last.ckpt`, in its own folder. A run folder given explicitly
(`hydra.run.dir=X`) that holds an unfinished run is the one resumed. In a multirun, each job
continues from the checkpoint in its own job folder, when there is one.

`ckpt_path=<file>` continues from that checkpoint: in the folder of the run it belongs to when
that run did not complete; otherwise (a completed run, or a file outside any run) in this
invocation's new folder, which records where it started (`init_from`). A completed run's
files are never rewritten.
"""

from dataclasses import dataclass
from pathlib import Path

from reglab import contract
from reglab.config.errors import CheckpointRefused, ConfigError
from reglab.run_folder import RunFolder, ended, same_run


@dataclass(frozen=True)
class ResumePoint:
    run_dir: Path
    ckpt: Path  # absent for a seeds=N run trained in turn: its replicas hold the checkpoints
    # set when training starts from another run's checkpoint in a new folder
    init_from: str | None = None


def without_resume(overrides: list[str]) -> list[str]:
    """The overrides that define a run, as a sorted list: their order on the command line
    does not change the run (`seed=6 trainer.max_epochs=5` = `trainer.max_epochs=5 seed=6`)."""
    return sorted(contract.defining_overrides(overrides))


def _last_active(run_dir: Path) -> float:
    """When the run last wrote something we rely on (its last checkpoint, else its folder)."""
    times = [run_dir.stat().st_mtime]
    folder = RunFolder(run_dir)
    for path in (folder.last_ckpt, folder.metrics_json):
        if path.is_file():
            times.append(path.stat().st_mtime)
    return max(times)


def find_unfinished_run(runs_dir: Path, current: Path, overrides: list[str]) -> Path:
    """The most recently active run folder next to `current` with the same overrides."""
    wanted = without_resume(overrides)
    same = [
        d
        for d in runs_dir.iterdir()
        if d.is_dir() and d != current and same_run(RunFolder(d).overrides(), overrides)
    ]
    # by time, not by name: folder names sort by start time, but a resumed run's activity
    # is later than a run started after it
    same.sort(key=lambda d: (_last_active(d), d.name), reverse=True)
    for run_dir in same:
        if ended(status := RunFolder(run_dir).status()):
            raise ConfigError(
                f"resume=true: the latest run with these overrides, {run_dir}, {status}; "
                "nothing to resume (drop resume=true to start a new run)"
            )
        if continuable(run_dir):
            return run_dir
    raise ConfigError(
        f"resume=true: no run with the overrides {wanted} and a checkpoints/last.ckpt in "
        f"{runs_dir}; give the checkpoint with ckpt_path=/path/to/last.ckpt"
    )


def continuable(run_dir: Path) -> bool:
    """The run left something to go on from: its checkpoints/last.ckpt, or (a seeds=N run
    whose seeds train one after another) replicas that finished or have a checkpoint, each
    continued on its own. (A stack interrupted before its first checkpoint leaves replica
    folders with neither: nothing to go on from, as a single run's.)"""
    folder = RunFolder(run_dir)
    if folder.last_ckpt.is_file():
        return True
    return any(r.last_ckpt.is_file() or r.finished() for r in folder.replicas())


def _run_of(ckpt: Path) -> Path | None:
    """The run folder a checkpoint belongs to (…/<run>/checkpoints/x.ckpt), if any."""
    run_dir = ckpt.parent.parent
    folder = RunFolder(run_dir)
    in_run = ckpt.parent == folder.checkpoints and folder.hydra_dir.is_dir()
    return run_dir if in_run else None


def resume_point(
    resume: bool, ckpt_path: str | None, output_dir: Path, overrides: list[str], multirun: bool
) -> ResumePoint | None:
    output_dir = Path(output_dir)
    if ckpt_path:
        ckpt = Path(ckpt_path).expanduser().resolve()
        if not ckpt.is_file():
            raise ConfigError(f"ckpt_path={ckpt_path}: no such file")
        run_dir = _run_of(ckpt)
        # a checkpoint continues its run in its folder when this is that run, unfinished
        if run_dir is not None and RunFolder(run_dir).unfinished_run_of(overrides):
            return ResumePoint(run_dir, ckpt)  # an unfinished run goes on in its folder
        # another run's weights (finished, or other overrides): its files stay as they are;
        # train on in this run's own folder
        return ResumePoint(output_dir, ckpt, init_from=str(ckpt))
    if not resume:
        return None
    here = RunFolder(output_dir).last_ckpt  # (a seeds=N run's in turn: none, its replicas')
    if multirun:
        return ResumePoint(output_dir, here) if continuable(output_dir) else None
    if continuable(output_dir):  # hydra.run.dir=X, X holds a run: X is the run to resume
        if ended(status := RunFolder(output_dir).status()):
            raise ConfigError(
                f"resume=true: {output_dir} holds a {status} run; nothing to resume (choose "
                "another hydra.run.dir, or drop resume=true)"
            )
        return ResumePoint(output_dir, here)
    if (status := RunFolder(output_dir).status()) is not None:  # X holds a run, untrained
        raise ConfigError(
            f"resume=true: {output_dir} holds a run ({status}) that stopped before its first "
            "checkpoint: nothing to resume from. Fix: drop resume=true and choose another "
            f"hydra.run.dir (or delete {output_dir})"
        )
    run_dir = find_unfinished_run(output_dir.parent, output_dir, overrides)
    return ResumePoint(run_dir, RunFolder(run_dir).last_ckpt)


def check_epochs_left(point: ResumePoint, max_epochs: int) -> None:
    """A checkpoint that has trained more epochs than trainer.max_epochs cannot go on:
    one line now, instead of Lightning's MisconfigurationException after set-up."""
    from reglab.outputs.checkpoint_io import read_checkpoint

    epoch = read_checkpoint(point.ckpt, mmap=True).get("epoch")
    if not isinstance(epoch, int):
        raise CheckpointRefused(point.ckpt, "not a Lightning checkpoint (it has no epoch count)")
    done = int(epoch) + 1
    if done > max_epochs:
        raise ConfigError(
            f"{point.ckpt} has trained {done} epochs, more than trainer.max_epochs={max_epochs}. "
            f"Fix: trainer.max_epochs={done + 1} or more to train on from it"
        )
