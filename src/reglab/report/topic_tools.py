"""What the experiment-specific report parts (reglab.report.topics) share: grouping jobs by
configuration, series and their mean ± std, number formats, and writing their files."""

import math
import statistics
from pathlib import Path

import yaml

from reglab import contract
from reglab.report.jobs import Job
from reglab.report.summary import config_key


def task_name(jobs: list[Job]) -> str | None:
    """The sweep's task_name, from the first job's resolved config."""
    for job in jobs:
        path = job.folder.config_yaml
        if path.is_file():
            return (yaml.safe_load(path.read_text()) or {}).get("task_name")
    return None


def case_name(job: Job) -> str:
    """A job's configuration: the value of its `+case/<experiment>=` override, else its
    overrides without the seed."""
    for override in job.overrides:
        key, _, value = override.lstrip("+").partition("=")
        if key.startswith("case/"):
            return value
    return ", ".join(config_key(job)) or "(defaults)"


def by_case(jobs: list[Job]) -> dict[str, list[Job]]:
    """Completed jobs grouped by configuration, in sweep order."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.status == contract.COMPLETED:
            groups.setdefault(case_name(job), []).append(job)
    return groups


def override_value(job: Job, key: str) -> str | None:
    for override in job.overrides:
        k, _, value = override.lstrip("+").partition("=")
        if k == key:
            return value
    return None


def series(job: Job, key: str) -> list[tuple[int, float]]:
    """(epoch, value) of one metrics.csv column, where the epoch has it."""
    return [(int(r["epoch"]), r[key]) for r in job.rows if key in r and "epoch" in r]


def finite(values) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


class Stat(tuple):
    """(mean, std), unpacked as a pair, over `n` finite values of the `given` ones (one per
    job): a table's seeds column counts jobs, and a mean over fewer must say so."""

    def __new__(cls, mean: float, std: float, n: int, given: int):
        stat = super().__new__(cls, (mean, std))
        stat.n, stat.given = n, given
        return stat


def mean_std(values) -> Stat | None:
    values = list(values)
    kept = finite(values)
    if not kept:
        return None
    std = statistics.stdev(kept) if len(kept) > 1 else 0.0
    return Stat(statistics.fmean(kept), std, len(kept), len(values))


def fmt(stat: tuple[float, float] | None, digits: int = 4) -> str:
    """`mean ± std`, and `(n=k)` where fewer values than jobs were averaged."""
    if stat is None:
        return "—"
    mean, std = stat
    n = getattr(stat, "n", None)
    count = f" (n={n})" if n is not None and n != stat.given else ""
    if abs(mean) >= 1e5:
        return f"{mean:.4g} ± {std:.2g}{count}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}{count}"


def mean_curve(jobs: list[Job], key: str) -> list[tuple[int, float, float]]:
    """(epoch, mean, std) over the jobs of one column, for epochs every job has."""
    per_job = [dict(series(job, key)) for job in jobs]
    per_job = [s for s in per_job if s]
    if not per_job:
        return []
    epochs = sorted(set.intersection(*(set(s) for s in per_job)))
    return [(e, *mean_std([s[e] for s in per_job])) for e in epochs]


def write_text(path: Path, text: str) -> Path:
    """Writes a report file atomically: a reader never sees half a file."""
    from reglab.outputs.atomic import write_text as write_atomically

    return write_atomically(path, text)


def save_png(fig, path: Path) -> Path:
    """The report's one way to save a figure: .png and .svg, atomically."""
    from reglab.outputs.figure_files import save_figure

    return save_figure(fig, path)
