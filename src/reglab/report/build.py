"""Build a sweep's report: summary.csv/.md, figures, report.md (and the per-job comparison)."""

import shlex
from pathlib import Path

import yaml

from reglab import contract
from reglab.extras.command import program, program_of_command
from reglab.outputs.atomic import write_text
from reglab.outputs.figure_files import vector_path
from reglab.report.compare import compare_jobs
from reglab.report.figures import plot_curves_by_config, plot_metric_vs_params
from reglab.report.jobs import load_jobs
from reglab.report.summary import primary_metric, summarize, sweep_objective, write_summary
from reglab.report.topics import topic_outputs
from reglab.run_folder import RunFolder

# written by the Optuna sweeper (reglab.search.figures), which report.md shows when present;
# named here so that the report does not import Optuna
OPTUNA_FIGURES = (
    "optuna_history.png",
    "optuna_importances.png",
    "optuna_parallel_coordinate.png",
)


def sweep_command(sweep_dir: Path, jobs: list | None = None) -> str | None:
    """The command that ran the sweep, from the multirun.yaml Hydra saves, started as the
    user started it (a job's recorded command says how: reglab-train, python train.py, ...)."""
    path = RunFolder(sweep_dir).multirun_yaml
    if not path.is_file():
        return None
    overrides = (yaml.safe_load(path.read_text()) or {}).get("hydra", {}).get("overrides", {})
    task = overrides.get("task") or []
    jobs = load_jobs(sweep_dir) if jobs is None else jobs
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


def build_report(sweep_dir: str | Path, jobs: list | None = None) -> list[Path]:
    """Writes everything that applies into the sweep folder; returns the files written.
    `jobs`: the folder's, loaded already (reglab.report.jobs.load_jobs); None: loaded here."""
    sweep_dir = Path(sweep_dir)
    jobs = load_jobs(sweep_dir) if jobs is None else jobs
    if not jobs:
        return []
    objective = sweep_objective(sweep_dir, jobs)
    summaries, swept = summarize(jobs, objective)
    written = write_summary(summaries, swept, sweep_dir, objective)
    metric, _ = primary_metric(summaries)  # what the figures plot
    ranked_by, _ = primary_metric(summaries, objective)
    figures = plot_metric_vs_params(summaries, swept, metric, sweep_dir) if metric else []
    curves = plot_curves_by_config(summaries, swept, sweep_dir / "curves_by_config.png")
    figures += [curves] if curves else []
    figures += compare_jobs(jobs, sweep_dir)
    figures += topic_outputs(jobs, sweep_dir)  # the experiment's own tables and figures
    written += figures
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
    return [*written, report]
