"""The jobs of a sweep folder, each with its overrides and what it wrote."""

import csv
from dataclasses import dataclass, field
from pathlib import Path

from reglab import contract
from reglab.outputs.atomic import read_json
from reglab.replicas.folders import job_order
from reglab.run_folder import RunFolder


@dataclass
class Job:
    path: Path
    overrides: list[str]
    metrics: dict = field(default_factory=dict)  # metrics.json; empty if the job never wrote it
    rows: list[dict] = field(default_factory=list)  # metrics.csv
    label: str = ""

    @property
    def folder(self) -> RunFolder:
        return RunFolder(self.path)

    @property
    def status(self) -> str:
        return self.metrics.get("status", "missing")

    def artifact(self, name: str) -> dict | None:
        path = self.path / name
        return read_json(path)

    @property
    def task(self) -> str:
        best = f"{self.epoch_stage}/loss_best"
        return "regression" if any(best in r for r in self.rows[-1:]) else "classification"

    @property
    def epoch_stage(self) -> str:
        """The prefix of the per-epoch evaluation in metrics.csv: val, or test where the test
        set is evaluated every epoch (protocol=d2l; metrics.csv has no other test/ column)."""
        return "test" if any("test/loss" in r for r in self.rows) else "val"


def _read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path) as f:
        return [
            {k: float(v) for k, v in row.items() if v not in ("", None)}
            for row in csv.DictReader(f)
        ]


def load_jobs(sweep_dir: str | Path, rows: bool = True) -> list[Job]:
    """Every job folder under `sweep_dir` (the ones with .hydra/overrides.yaml), in job order;
    `rows=False`: without their metrics.csv rows (their records are what is asked)."""
    sweep_dir = Path(sweep_dir)
    jobs = []
    # a `seeds=N` job stands for its N replica folders, each a job with `seed=k`
    folders = [f for job in RunFolder(sweep_dir).jobs() for f in job.replicas() or [job]]
    for folder in folders:
        jobs.append(
            Job(
                path=folder.path,
                overrides=contract.defining_overrides(folder.saved_overrides() or []),
                # unreadable (a full disk before atomic writes): the job counts as missing
                metrics=folder.record() or {},
                rows=_read_rows(folder.metrics_csv) if rows else [],
            )
        )
    jobs.sort(key=lambda job: job_order(job.path))
    _label(jobs)
    return jobs


def _label(jobs: list[Job]) -> None:
    """Labels each job by the overrides that differ between jobs (else its folder name)."""
    common = set.intersection(*(set(j.overrides) for j in jobs)) if jobs else set()
    for job in jobs:
        differing = [_short(o.lstrip("+")) for o in job.overrides if o not in common]
        job.label = ", ".join(differing) or job.path.name


def _short(override: str) -> str:
    """`k=0.35006976901` -> `k=0.3501`: searched values stay readable in legends."""
    key, _, value = override.partition("=")
    try:
        number = float(value)
    except ValueError:
        return override
    return f"{key}={number:.4g}" if len(value) > 8 and "." in value else override
