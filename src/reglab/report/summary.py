"""One row per distinct configuration of a sweep: final metrics as mean ± std over seeds.

A configuration is a job's overrides without `seed=...`. Jobs that failed or diverged are
counted in their row's `failed` / `diverged` columns and left out of the means.
"""

import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reglab import contract
from reglab.outputs.atomic import write_text
from reglab.report.jobs import Job
from reglab.run_folder import RunFolder

SEED_PREFIXES = ("seed=", "+seed=")
# Final metrics worth summarising, when present (in this order).
SUMMARY_KEYS = (
    "test/acc",
    "test/loss",
    "val/acc_best",
    "val/loss_best",
    "val/acc",  # final epoch
    "train/acc",
    "train/loss",
    "train/loss_max",  # largest training-batch loss of the run
    "train/w_norm",
    "epochs",
    "wall_seconds",
)


@dataclass
class ConfigSummary:
    overrides: tuple[str, ...]  # without the seed
    jobs: list[Job] = field(default_factory=list)

    @property
    def completed(self) -> list[Job]:
        return [j for j in self.jobs if j.status == contract.COMPLETED]

    def count(self, status: str) -> int:
        return sum(1 for j in self.jobs if j.status == status)

    def values(self, key: str) -> list[float]:
        values = [j.metrics.get(key) for j in self.completed]
        return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]

    def mean_std(self, key: str) -> tuple[float, float] | None:
        values = self.values(key)
        if not values:
            return None
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    @property
    def params(self) -> dict[str, str]:
        """Override values by key; a list value `k=[a,b]` becomes `k[0]=a`, `k[1]=b`, so a
        sweep over per-layer rates can be plotted against each layer's rate."""
        params = {}
        for override in self.overrides:
            if "=" not in override:
                continue
            key, value = override.lstrip("+").split("=", 1)
            if value.startswith("[") and value.endswith("]"):
                for i, item in enumerate(value[1:-1].split(",")):
                    params[f"{key}[{i}]"] = item.strip()
            else:
                params[key] = value
        return params


def config_key(job: Job) -> tuple[str, ...]:
    return tuple(o for o in job.overrides if not o.startswith(SEED_PREFIXES))


@dataclass(frozen=True)
class Objective:
    """The metric a sweeper optimised, and its direction: what its report ranks by."""

    metric: str
    higher_is_better: bool


def sweep_objective(sweep_dir: Path, jobs: list[Job]) -> Objective | None:
    """What the sweep's sweeper optimised (an Optuna search: `optimized_metric`, by default
    the monitor's best, in `hydra.sweeper.direction`), from the multirun.yaml Hydra saves.
    None for a sweeper that optimises nothing (a grid)."""
    path = RunFolder(sweep_dir).multirun_yaml
    config = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    direction = ((config.get("hydra") or {}).get("sweeper") or {}).get("direction")
    if direction not in ("maximize", "minimize"):
        return None
    metric = config.get("optimized_metric") or next(
        (m for j in jobs if (m := contract.monitor_best_key(j.metrics))), None
    )
    return Objective(metric, direction == "maximize") if metric else None


def summarize(
    jobs: list[Job], objective: Objective | None = None
) -> tuple[list[ConfigSummary], list[str]]:
    """(configurations sorted best first, the override keys that differ between them).
    Sorted by `objective` when the sweep optimised one (never by a test number it did not
    choose by), else by `primary_metric`."""
    configs: dict[tuple[str, ...], ConfigSummary] = {}
    for job in jobs:
        configs.setdefault(config_key(job), ConfigSummary(config_key(job))).jobs.append(job)
    summaries = list(configs.values())
    swept = sorted(
        {
            k
            for s in summaries
            for k, v in s.params.items()
            if len({t.params.get(k) for t in summaries}) > 1
        }
    )
    metric, higher_is_better = primary_metric(summaries, objective)

    def order(s: ConfigSummary):
        stat = s.mean_std(metric) if metric else None
        if stat is None:
            return (1, 0.0)
        return (0, -stat[0] if higher_is_better else stat[0])

    summaries.sort(key=order)
    return summaries, swept


def primary_metric(
    summaries: list[ConfigSummary], objective: Objective | None = None
) -> tuple[str | None, bool]:
    """What to sort by: the sweep's objective; else test accuracy (higher first), else
    test/validation loss (lower first)."""
    if objective is not None and any(s.values(objective.metric) for s in summaries):
        return objective.metric, objective.higher_is_better
    for key, higher in (
        ("test/acc", True),
        ("val/acc_best", True),
        ("test/loss", False),
        ("val/loss_best", False),
        ("train/loss", False),
    ):
        if any(s.values(key) for s in summaries):
            return key, higher
    return None, True


def metric_keys(summaries: list[ConfigSummary], objective: Objective | None = None) -> list[str]:
    keys = [k for k in SUMMARY_KEYS if any(s.values(k) for s in summaries)]
    if objective is not None and objective.metric not in keys:
        keys = (
            [objective.metric, *keys]
            if any(s.values(objective.metric) for s in summaries)
            else keys
        )
    return keys


def sweep_tags(summaries: list[ConfigSummary]) -> list[str]:
    """The `tags` of the sweep's jobs (metrics.json), each once, in first-seen order."""
    tags = [t for s in summaries for j in s.jobs for t in j.metrics.get("tags") or []]
    return list(dict.fromkeys(tags))


def write_summary(
    summaries: list[ConfigSummary],
    swept: list[str],
    out_dir: Path,
    objective: Objective | None = None,
) -> list[Path]:
    keys = metric_keys(summaries, objective)
    csv_path, md_path = out_dir / "summary.csv", out_dir / "summary.md"
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(
        [
            *swept,
            "seeds",
            contract.FAILED,
            contract.DIVERGED,
            # _n: the values each mean is over (a job may lack a metric, or hold a NaN)
            *[f"{k}_{s}" for k in keys for s in ("mean", "std", "n")],
        ]
    )
    for s in summaries:
        stats = [s.mean_std(k) for k in keys]
        writer.writerow(
            [
                *(s.params.get(k, "") for k in swept),
                len(s.completed),
                s.count(contract.FAILED) + s.count("missing"),
                s.count(contract.DIVERGED),
                *[
                    v
                    for k, st in zip(keys, stats, strict=True)
                    for v in ((*st, len(s.values(k))) if st else ("", "", 0))
                ],
            ]
        )
    write_text(csv_path, table.getvalue())
    lines = [f"Tags: {', '.join(tags)}", ""] if (tags := sweep_tags(summaries)) else []
    if objective is not None and objective.metric in keys:
        direction = "highest" if objective.higher_is_better else "lowest"
        lines += [
            f"Ranked by {objective.metric}, {direction} first: the metric the search "
            "optimised. Test columns are shown, never used to choose.",
            "",
        ]
    lines.append("| " + " | ".join([*(swept or ["configuration"]), "seeds", *keys]) + " |")
    lines.append("|" + "---|" * (max(len(swept), 1) + 1 + len(keys)))
    for s in summaries:
        label = [s.params.get(k, "") for k in swept] or [", ".join(s.overrides) or "(defaults)"]
        seeds = str(len(s.completed))
        problems = [
            f"{s.count(st)} {st}"
            for st in (contract.FAILED, contract.DIVERGED, "missing")
            if s.count(st)
        ]
        if problems:
            seeds += " (" + ", ".join(problems) + ")"
        cells = []
        for k in keys:
            stat = s.mean_std(k)
            n = len(s.values(k))
            cell = "—" if stat is None else _format(k, *stat, n=n)
            # the seeds column counts completed jobs; a mean over fewer says so
            cells.append(cell + (f" (n={n})" if stat is not None and n != len(s.completed) else ""))
        lines.append("| " + " | ".join([*label, seeds, *cells]) + " |")
    write_text(md_path, "\n".join(lines) + "\n")
    return [csv_path, md_path]


def _format(key: str, mean: float, std: float, n: int) -> str:
    if abs(mean) >= 1e5:  # exploded losses and norms: 1.0196e+14, not 15 digits
        return f"{mean:.4g}" + (f" ± {std:.2g}" if n > 1 else "")
    digits = 1 if key == "wall_seconds" else 0 if key == "epochs" else 4
    text = f"{mean:.{digits}f}"
    return text + (f" ± {std:.{digits}f}" if n > 1 else "")
