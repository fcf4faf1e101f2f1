"""A sweep report's page, report.md: the command, the jobs' outcomes, the summary table and
every figure and table drawn (reglab.report.build draws them). Torch- and matplotlib-free: a
launcher whose workers drew the figures assembles it (reglab.report.elsewhere)."""

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reglab import contract
from reglab.extras.command import program, program_of_command
from reglab.outputs.atomic import write_text
from reglab.outputs.figure_names import vector_path
from reglab.report.jobs import load_jobs
from reglab.run_folder import RunFolder

# written by the Optuna sweeper (reglab.search.figures), which report.md shows when present;
# named here so that the report does not import Optuna
OPTUNA_FIGURES = (
    "optuna_history.png",
    "optuna_importances.png",
    "optuna_parallel_coordinate.png",
)


@dataclass
class Share:
    """What one share of a report's drawing wrote: the summary files and the metric the table
    is sorted by (the first share's), and each drawing's files by its place in the report."""

    summary: list[Path] = field(default_factory=list)
    ranked_by: str | None = None
    drawn: dict[int, list[Path]] = field(default_factory=dict)


def sweep_command(sweep_dir: Path, jobs: list | None = None) -> str | None:
    """The command that ran the sweep, from the multirun.yaml Hydra saves, started as the
    user started it (a job's recorded command says how: reglab-train, python train.py, ...)."""
    path = RunFolder(sweep_dir).multirun_yaml
    if not path.is_file():
        return None
    overrides = (yaml.safe_load(path.read_text()) or {}).get("hydra", {}).get("overrides", {})
    task = overrides.get("task") or []
    jobs = load_jobs(sweep_dir, rows=False) if jobs is None else jobs
    typed = (
        program_of_command(j.metrics["provenance"]["command"])
        for j in jobs
        if _recorded_command(j.metrics)
    )
    start = next((p for p in typed if p), None) or program("train")
    return f"{start} -m " + " ".join(shlex.quote(o) for o in task)


def _recorded_command(record: dict | None) -> bool:
    provenance = (record or {}).get("provenance")
    return isinstance(provenance, dict) and isinstance(provenance.get("command"), str)


def write_page(sweep_dir: Path, jobs: list, shares: list[Share]) -> list[Path]:
    """report.md from the shares of the drawing (`jobs`: the sweep's, rows not needed);
    returns every file the report wrote, report.md last."""
    drawn = {place: files for share in shares for place, files in share.drawn.items()}
    figures = [file for place in sorted(drawn) for file in drawn[place]]
    ranked_by = next((s.ranked_by for s in shares if s.ranked_by), None)
    lines = [f"# Sweep report: {sweep_dir.name}", ""]
    command = sweep_command(sweep_dir, jobs)
    if command:
        lines += ["Command:", "", "```bash", command, "```", ""]
    counts = {
        st: sum(1 for j in jobs if j.status == st)
        for st in (contract.COMPLETED, contract.FAILED, contract.DIVERGED, "missing")
    }
    lines += [
        f"{len(jobs)} jobs: " + ", ".join(f"{n} {st}" for st, n in counts.items() if n) + ".",
        f"Sorted by {ranked_by}." if ranked_by else "",
        "",
        (sweep_dir / "summary.md").read_text(),
    ]
    # an Optuna search's own figures, drawn by its sweeper
    searched = [sweep_dir / name for name in OPTUNA_FIGURES if (sweep_dir / name).is_file()]
    for figure in figures + searched:
        if figure.suffix == ".png":
            vector = vector_path(figure).name
            lines += [f"![{figure.stem}]({figure.name})", f"(vector: [{vector}]({vector}))", ""]
        elif figure.suffix == ".md":
            lines += [f"## {figure.stem}", "", figure.read_text(), ""]
    report = sweep_dir / "report.md"
    write_text(report, "\n".join(lines) + "\n")
    summary = [file for share in shares for file in share.summary]
    return [*summary, *figures, report]
