"""What a `seeds=N` run leaves to continue from, and what its checkpoints may be used for.

`<run>/checkpoints/last.ckpt` of a `seeds=N` run is the run's state after its last
checkpointed epoch (written atomically after every validated epoch and the last, as a single
run's last.ckpt): Lightning's checkpoint of the replicas' module (all replicas' weights,
optimizer and scheduler state, loop progress) with, under `RUN_STATE`, what is per replica
(best weights, statuses, metrics rows: `ReplicaModule.loop_state()`). `resume=true` finds it
as it finds a single run's last.ckpt, and `trainer.fit(ckpt_path=...)` goes on from it
exactly.

Each replica's `seed_<k>/checkpoints/{last,best}.ckpt` is a RegLabModule checkpoint (eval.py,
`trainer.test(ckpt_path=...)`, `load_from_checkpoint`) marked with `REPLICA`: it holds the
replica's weights, not a Lightning training state (loop progress, optimizer state), so
`ckpt_path=` refuses it in one line rather than start a run that would not be the replica's
continuation. Everything here loads with `weights_only=True`: plain containers and tensors.
"""

from pathlib import Path

import torch

from reglab.config.errors import ConfigError
from reglab.run_folder import RunFolder

RUN_STATE = "reglab_replicas"  # {"seeds": [...], "loop": ReplicaModule.loop_state(...)}
REPLICA = "reglab_replica"  # {"run": <the seeds=N run's folder>, "seed": k}


def _load(path: Path) -> dict:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a checkpoint, a damaged one, or one holding code
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "empty or cut off"
        raise ConfigError(f"ckpt_path={path}: not a readable checkpoint ({detail})") from None
    if not isinstance(ckpt, dict):
        raise ConfigError(f"{path}: not a checkpoint (it holds a {type(ckpt).__name__})")
    return ckpt


def load_run_state(path: Path, seeds: list[int]) -> dict:
    """The loop state in a `seeds=N` run's checkpoint; one line when it is not one, or is
    one of other seeds."""
    ckpt = _load(Path(path))
    state = ckpt.get(RUN_STATE)
    if REPLICA in ckpt:
        origin = ckpt[REPLICA]
        run = RunFolder(origin["run"])
        raise ConfigError(
            f"ckpt_path={path} is a checkpoint of replica seed={origin['seed']} of the seeds=N "
            f"run {origin['run']}: it holds the replica's weights (for eval.py), not the "
            f"replicas' training state: continue them from {run.last_ckpt}"
        )
    if state is None:
        raise ConfigError(
            f"{path} is a single run's checkpoint, not a seeds=N run's: a seeds={len(seeds)} run "
            "resumes only from the checkpoints/last.ckpt of a seeds=N run folder (or drop "
            "resume=true to start afresh)"
        )
    if list(state["seeds"]) != list(seeds):
        raise ConfigError(
            f"{path} holds the replicas of seeds {state['seeds']}, not {list(seeds)}: resume "
            "with the seed= and seeds= of that run"
        )
    return state["loop"]


def check_resume_checkpoint(path: Path, seeds: list[int]) -> None:
    """Before anything is loaded: the checkpoint a run would continue from is of its kind
    (a `seeds=N` run's state for seeds>1, a single run's checkpoint for seeds=1)."""
    if len(seeds) > 1:
        load_run_state(path, seeds)
    else:
        check_single_run_checkpoint(path)


def check_single_run_checkpoint(path: Path) -> None:
    """`ckpt_path=` / `resume=true` of a single run: a replica's checkpoint or a `seeds=N`
    run's state is refused in one line naming why and what to do instead. A file this check
    cannot read is left to the checks that load it for training (memory-mapped: cheap)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return
    if not isinstance(ckpt, dict):
        return
    if RUN_STATE in ckpt:
        seeds = ckpt[RUN_STATE]["seeds"]
        raise ConfigError(
            f"{path} is the state of a seeds={len(seeds)} run (its {len(seeds)} replicas "
            f"together), not a single run's checkpoint: continue that run with seeds="
            f"{len(seeds)} seed={seeds[0]} resume=true hydra.run.dir={Path(path).parent.parent}"
        )
    if REPLICA in ckpt:
        origin = ckpt[REPLICA]
        raise ConfigError(
            f"ckpt_path={path} is a checkpoint of replica seed={origin['seed']} of the seeds=N "
            f"run {origin['run']}: it holds the replica's weights (for eval.py), not a training "
            "state Lightning can continue. Continue the replicas with resume=true in that run, "
            f"or train a single run with seed={origin['seed']}"
        )


def check_not_run_state(path: Path) -> None:
    """eval.py: a `seeds=N` run's state holds all its replicas; each is evaluated from its
    own folder. (A file this check cannot read is left to the loader.)"""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return
    if isinstance(ckpt, dict) and RUN_STATE in ckpt:
        seeds = ckpt[RUN_STATE]["seeds"]
        run = Path(path).parent.parent
        raise ConfigError(
            f"ckpt_path={path} is the state of a seeds={len(seeds)} run (its replicas "
            f"together), not one model: evaluate a replica's, e.g. ckpt_path="
            f"{RunFolder(run).replica(seeds[0]).last_ckpt}"
        )
