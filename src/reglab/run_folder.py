"""A run folder's one owner: its files' paths, its record and statuses, and who may write it.

`RunFolder(path)` names every file a run leaves (metrics.json, checkpoints/<stem>.ckpt,
.hydra/overrides.yaml, seed_<k>/ replicas, ...; the names are reglab.contract's), reads and
writes its record (metrics.json, atomically) and moves its status. No other module spells a
run folder's file name or status (tests/test_run_folder_literals.py).

Who may write a run folder: the run that made it, one process at a time.
One rule, enforced here and nowhere else: a folder that holds a run (a metrics.json record of
any status, or checkpoints of a run killed before it could write one) is written only by that
same run (the same defining overrides) going on or starting again, one process at a time
(a lock); a finished run (completed, diverged) is never written again. Everything else writes
a new folder: eval always, training on from another run's weights, a new run.
Torch-free: Hydra's callback checks a folder before Hydra creates anything in it.
"""

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from reglab import contract
from reglab.config.errors import ConfigError
from reglab.outputs.atomic import read_json
from reglab.outputs.results import write_metrics_json


class FolderTaken(ConfigError):
    """A folder this process may not write: it belongs to another run, or another process
    is writing it."""


# Where a run writes, not what it is: the same run spelled with paths.output_dir=X or
# hydra.run.dir=X. (paths.data_dir stays: other data is another run.)
LOCATION_KEYS = ("paths.output_dir", "paths.log_dir", "paths.cache_dir", "paths.root_dir")
# The processes' own locks: folder -> the open lock file (see RunFolder.writing)
_HELD: dict[str, int] = {}


def _identity(overrides: list[str]) -> list[str]:
    """What a run is: its defining overrides as a set, without where it writes."""
    defining = contract.defining_overrides(overrides)
    return sorted(o for o in defining if o.lstrip("+~").split("=", 1)[0] not in LOCATION_KEYS)


def same_run(theirs: list[str] | None, ours: list[str]) -> bool:
    """Two runs are the same run when their defining overrides are the same set (order,
    resume=/ckpt_path= and where they write aside)."""
    return theirs is not None and _identity(theirs) == _identity(ours)


def checkpoint_name(stem: str) -> str:
    """A checkpoint's file name: best -> best.ckpt."""
    return f"{stem}{contract.CKPT_SUFFIX}"


def mark(record: dict, status: str, **fields) -> dict:
    """The record's status becomes `status` (one of contract.STATUSES), with `fields`; the
    record (changed in place) is returned. A record starts `failed` and moves once the run
    says how it ended: completed, diverged (both final), or interrupted."""
    if status not in contract.STATUSES:
        raise ValueError(f"{status!r} is not a run status ({', '.join(contract.STATUSES)})")
    record["status"] = status
    record.update(fields)
    return record


def ended(status: str | None) -> bool:
    """A status with a result: the run's folder is never written again."""
    return status in contract.FINAL


def rebase_paths(value, moves: dict[str, str]):
    """`value` (nested dicts and lists) with every string that is a path under one of
    `moves`' folders (the folder itself or below it) moved under its new folder."""
    if isinstance(value, dict):
        return {k: rebase_paths(v, moves) for k, v in value.items()}
    if isinstance(value, list):
        return [rebase_paths(v, moves) for v in value]
    if isinstance(value, str):
        for old, new in moves.items():
            if value == old or value.startswith(old + "/"):
                return new + value[len(old) :]
    return value


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    # its files
    @property
    def metrics_json(self) -> Path:
        return self.path / contract.METRICS_JSON

    @property
    def metrics_csv(self) -> Path:
        return self.path / contract.METRICS_CSV

    @property
    def checkpoints(self) -> Path:
        return self.path / contract.CHECKPOINTS

    def checkpoint(self, stem: str) -> Path:
        return self.checkpoints / checkpoint_name(stem)

    @property
    def best_ckpt(self) -> Path:
        return self.checkpoint(contract.BEST)

    @property
    def last_ckpt(self) -> Path:
        return self.checkpoint(contract.LAST)

    @property
    def on_exception_ckpt(self) -> Path:
        return self.checkpoint(contract.ON_EXCEPTION)

    @property
    def fit_json(self) -> Path:
        return self.path / contract.FIT_JSON

    @property
    def weights_json(self) -> Path:
        return self.path / contract.WEIGHTS_JSON

    @property
    def wandb_id(self) -> Path:
        return self.path / contract.WANDB_ID

    @property
    def curves_png(self) -> Path:
        return self.path / contract.CURVES_PNG

    @property
    def per_class_csv(self) -> Path:
        return self.path / contract.PER_CLASS_CSV

    @property
    def hydra_dir(self) -> Path:
        return self.path / contract.HYDRA_DIR

    @property
    def overrides_yaml(self) -> Path:
        return self.hydra_dir / contract.OVERRIDES_YAML

    @property
    def config_yaml(self) -> Path:
        return self.hydra_dir / contract.CONFIG_YAML

    @property
    def hydra_files(self) -> list[Path]:
        """What Hydra writes into the folder before the run starts: .hydra/*.yaml, train.log."""
        return [*(self.hydra_dir / name for name in contract.HYDRA_FILES), self.train_log]

    @property
    def train_log(self) -> Path:
        return self.path / contract.TRAIN_LOG

    @property
    def config_tree_log(self) -> Path:
        return self.path / contract.CONFIG_TREE_LOG

    @property
    def lock(self) -> Path:
        return self.path / contract.LOCK

    @property
    def multirun_yaml(self) -> Path:
        """A sweep folder's: the sweep's own overrides (Hydra's multirun.yaml)."""
        return self.path / contract.MULTIRUN_YAML

    # a seeds=N run's replicas: each a run folder, seed_<k>
    def replica(self, seed: int) -> "RunFolder":
        return RunFolder(self.path / f"{contract.REPLICA_PREFIX}{seed}")

    def pack(self, name: str) -> "RunFolder":
        """A sweep folder's pack of jobs trained together: its own state (resume), not a job."""
        return RunFolder(self.path / contract.PACKS_DIR / name)

    @property
    def replica_seed(self) -> int | None:
        """k for a replica's folder (seed_<k>), else None."""
        name = self.path.name
        suffix = name[len(contract.REPLICA_PREFIX) :]
        return (
            int(suffix) if name.startswith(contract.REPLICA_PREFIX) and suffix.isdigit() else None
        )

    def replicas(self) -> list["RunFolder"]:
        """The replica folders a `seeds=N` run left (in seed order), or [] for a plain run."""
        found = [RunFolder(p) for p in self.path.glob(f"{contract.REPLICA_PREFIX}*")]
        found = [f for f in found if f.replica_seed is not None and f.overrides_yaml.is_file()]
        return sorted(found, key=lambda f: f.replica_seed)

    def jobs(self) -> list["RunFolder"]:
        """A sweep folder's job folders (those with .hydra/overrides.yaml), unordered."""
        pattern = f"*/{contract.HYDRA_DIR}/{contract.OVERRIDES_YAML}"
        return [RunFolder(f.parent.parent) for f in self.path.glob(pattern)]

    # what it holds
    def record(self) -> dict | None:
        return read_json(self.metrics_json)

    def write_record(self, record: dict) -> Path:
        """metrics.json, atomically: a reader sees the old record or the new one."""
        return write_metrics_json(self.metrics_json, record)

    def status(self) -> str | None:
        record = self.record()
        return record.get("status") if record else None

    def finished(self) -> bool:
        """It holds a run that ended with a result (completed, diverged)."""
        return ended(self.status())

    def saved_overrides(self) -> list[str] | None:
        """What Hydra saved of the run's command line (.hydra/overrides.yaml); None when there
        is none or it cannot be read."""
        path = self.overrides_yaml
        try:
            saved = yaml.safe_load(path.read_text()) if path.is_file() else None
        except (OSError, yaml.YAMLError):
            return None
        return saved if isinstance(saved, list) else None

    def overrides(self) -> list[str] | None:
        """The run's defining overrides: its record's, else what Hydra saved of its command."""
        record = self.record()
        if record and isinstance(record.get("overrides"), list):
            return record["overrides"]
        return self.saved_overrides()

    def holds_run(self) -> bool:
        """A record, or checkpoints (a run killed before it wrote its record)."""
        if self.metrics_json.exists():
            return True
        return self.checkpoints.is_dir() and any(self.checkpoints.iterdir())

    def unfinished_run_of(self, overrides: list[str]) -> bool:
        """It holds this same run (its defining overrides), not finished: the run may go on
        or start again here."""
        return not self.finished() and same_run(self.overrides(), overrides)

    def enclosing_run(self) -> "RunFolder | None":
        """The run folder this folder lies inside (`<run>/checkpoints`, `<run>/.hydra`, ...)."""
        for parent in self.path.resolve().parents:
            if RunFolder(parent).holds_run():
                return RunFolder(parent)
        return None

    # who may write it
    def check_writer(self, overrides: list[str], *, evaluating: bool = False) -> None:
        """Raises FolderTaken (one line: whose folder, and the fix) unless a run with these
        defining overrides may write here: the folder holds no run, or this same run,
        unfinished (with resume=true it goes on from its last checkpoint; without, it starts
        again and its earlier checkpoints are set aside). `evaluating`: eval, which never
        writes a training run's folder."""
        enclosing = self.enclosing_run()
        if enclosing is not None:
            raise FolderTaken(
                f"{self.path} is inside the run folder {enclosing.path}; a run folder is written "
                "only by its own run. Fix: choose a folder outside it"
            )
        if not self.path.is_dir() or not self.holds_run():
            return
        here, status = self.path, self.status() or "unfinished (no record)"
        if evaluating:
            raise FolderTaken(
                f"{here} holds a training run ({status}); eval only reads a training folder. "
                "Fix: drop hydra.run.dir (eval writes its own folder under logs/eval/runs/)"
            )
        if status in contract.FINAL:
            raise FolderTaken(
                f"{here} holds a {status} run; its files are never rewritten. Fix: choose "
                "another hydra.run.dir (to train on from its weights, keep the default folder "
                f"and give ckpt_path={self.last_ckpt})"
            )
        theirs = self.overrides()
        # None: checkpoints with no record of who wrote them (a run started from Python,
        # killed before its record): no other run's identity to protect
        if theirs is not None and not same_run(theirs, overrides):
            raise FolderTaken(
                f"{here} holds another run ({status}, overrides {theirs}); a run folder is "
                "written only by its own run. Fix: choose another hydra.run.dir / "
                "hydra.sweep.dir"
            )

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Held while this process writes the run: a second writer gets one line naming the
        holder's pid. flock: released by the kernel when the holder dies, even by SIGKILL.
        Re-entrant within a process (Hydra's callback may have taken it already: hold())."""
        if str(self.path.resolve()) in _HELD:
            yield
            return
        self.hold()
        try:
            yield
        finally:
            self.release()

    def hold(self) -> None:
        """Takes the lock until release() or the end of the process: before Hydra writes its
        .hydra/ and train.log into a folder another process may be writing."""
        key = str(self.path.resolve())
        if key not in _HELD:
            _HELD[key] = self._acquire()

    def release(self) -> None:
        fd = _HELD.pop(str(self.path.resolve()), None)
        if fd is not None:
            os.close(fd)  # releases the lock; the file stays (unlinking it would race)

    def _acquire(self) -> int:
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.lock
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise FolderTaken(
                f"{self.path} is being written by process {holder} (lock {lock}); a run folder "
                "has one writer at a time. Fix: wait for that process to end, or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd


def check_sweep_folder(sweep_dir: Path, overrides: list[str]) -> None:
    """A sweep folder that holds jobs' runs is written only by the same sweep run again
    (the same overrides: its jobs are the same jobs, and resume)."""
    sweep_dir = Path(sweep_dir)
    folder = RunFolder(sweep_dir)
    enclosing = folder.enclosing_run() or (folder if folder.holds_run() else None)
    if enclosing is not None:
        raise FolderTaken(
            f"{sweep_dir} is a run's folder or lies inside one ({enclosing.path}); a run folder "
            "is written only by its own run. Fix: choose another hydra.sweep.dir"
        )
    if not sweep_dir.is_dir():
        return
    jobs = [d for d in sweep_dir.iterdir() if d.is_dir() and RunFolder(d).holds_run()]
    if not jobs:
        return
    saved = folder.multirun_yaml
    try:
        theirs = yaml.safe_load(saved.read_text())["hydra"]["overrides"]["task"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        theirs = None
    if not same_run(theirs, overrides):
        raise FolderTaken(
            f"{sweep_dir} holds the jobs of another sweep (overrides {theirs}); a run folder "
            "is written only by its own run. Fix: choose another hydra.sweep.dir, or give that "
            "sweep's own overrides to resume it"
        )
