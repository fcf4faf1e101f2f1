"""Which checkpoint a run continues from: `resume=true` or `ckpt_path=...`.

`python train.py <same overrides> resume=true` finds the most recent earlier run with the same
overrides that did not complete (killed, interrupted, crashed) and continues it from its
`checkpoints/last.ckpt`, in its own folder. In a multirun, each job continues from the
checkpoint in its own job folder, when there is one. `ckpt_path=<file>` continues from that
checkpoint (in the folder it belongs to when it sits in a run's `checkpoints/`).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from reglab.config import ConfigError

RESUME_KEYS = ("resume", "ckpt_path")


@dataclass(frozen=True)
class ResumePoint:
    run_dir: Path
    ckpt: Path


def without_resume(overrides: list[str]) -> list[str]:
    return [o for o in overrides if o.lstrip("+~").split("=", 1)[0] not in RESUME_KEYS]


def _overrides(run_dir: Path) -> list[str] | None:
    path = run_dir / ".hydra" / "overrides.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def _status(run_dir: Path) -> str | None:
    path = run_dir / "metrics.json"
    return json.loads(path.read_text()).get("status") if path.is_file() else None


def find_unfinished_run(runs_dir: Path, current: Path, overrides: list[str]) -> Path:
    """The newest run folder next to `current` with the same overrides and a last.ckpt."""
    wanted = without_resume(overrides)
    same = [
        d
        for d in sorted(runs_dir.iterdir(), reverse=True)  # folder names start with the time
        if d.is_dir()
        and d != current
        and without_resume(_overrides(d) or []) == wanted
        and _overrides(d) is not None
    ]
    for run_dir in same:
        if _status(run_dir) == "completed":
            raise ConfigError(
                f"resume=true: the latest run with these overrides, {run_dir}, completed; "
                "nothing to resume (drop resume=true to start a new run)"
            )
        if (run_dir / "checkpoints" / "last.ckpt").is_file():
            return run_dir
    raise ConfigError(
        f"resume=true: no run with the overrides {wanted} and a checkpoints/last.ckpt in "
        f"{runs_dir}; give the checkpoint with ckpt_path=/path/to/last.ckpt"
    )


def resume_point(
    resume: bool, ckpt_path: str | None, output_dir: Path, overrides: list[str], multirun: bool
) -> ResumePoint | None:
    if ckpt_path:
        ckpt = Path(ckpt_path).expanduser().resolve()
        if not ckpt.is_file():
            raise ConfigError(f"ckpt_path={ckpt_path}: no such file")
        in_run = ckpt.parent.name == "checkpoints" and (ckpt.parent.parent / ".hydra").is_dir()
        return ResumePoint(ckpt.parent.parent if in_run else output_dir, ckpt)
    if not resume:
        return None
    if multirun:
        ckpt = output_dir / "checkpoints" / "last.ckpt"
        return ResumePoint(output_dir, ckpt) if ckpt.is_file() else None
    run_dir = find_unfinished_run(output_dir.parent, output_dir, overrides)
    return ResumePoint(run_dir, run_dir / "checkpoints" / "last.ckpt")
