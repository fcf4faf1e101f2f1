"""Build a sweep's report: summary.csv/.md, figures, report.md (and the per-job comparison).

The figures are independent drawings. `build_report` draws them all here; `draw_share` draws
one share of them, so that several processes can draw a report side by side (the stacked
launcher's idle workers: reglab.report.elsewhere), and reglab.report.page writes report.md
from the shares."""

from collections.abc import Callable
from pathlib import Path

from reglab.report.compare import (
    plot_fits,
    plot_learning_curves,
    plot_weight_histograms,
    weights_table,
)
from reglab.report.figures import plot_curves_by_config, plot_metric_vs_params
from reglab.report.jobs import load_jobs
from reglab.report.page import Share, write_page
from reglab.report.summary import primary_metric, summarize, sweep_objective, write_summary
from reglab.report.topics import topic_outputs

# a drawing's time against the others' (measured on a 30-job toy1d sweep: the weight
# histograms ~2 s, the learning curves ~1.5 s, each other figure ~0.4 s), to share them out
COSTS = {"weight_histograms": 4.0, "comparison": 3.0}


def _drawings(sweep_dir: Path, jobs: list, summaries, swept, metric) -> list[tuple[str, Callable]]:
    """(name, draw) in the report's order; `draw()` returns the files it wrote."""

    def written(path: Path | None) -> list[Path]:
        return [path] if path is not None else []

    return [
        (
            "by_metric",
            lambda: plot_metric_vs_params(summaries, swept, metric, sweep_dir) if metric else [],
        ),
        (
            "curves_by_config",
            lambda: written(
                plot_curves_by_config(summaries, swept, sweep_dir / "curves_by_config.png")
            ),
        ),
        ("comparison", lambda: written(plot_learning_curves(jobs, sweep_dir / "comparison.png"))),
        ("fits", lambda: written(plot_fits(jobs, sweep_dir / "fits.png"))),
        (
            "weight_histograms",
            lambda: written(plot_weight_histograms(jobs, sweep_dir / "weight_histograms.png")),
        ),
        ("weights", lambda: written(weights_table(jobs, sweep_dir / "weights.md"))),
        ("topic", lambda: topic_outputs(jobs, sweep_dir)),  # the experiment's own
    ]


def shared_out(names: list[str], shares: int) -> list[int]:
    """Each drawing's share: the costliest first, each to the least loaded share."""
    loads = [0.0] * shares
    owner = [0] * len(names)
    for place in sorted(range(len(names)), key=lambda p: -COSTS.get(names[p], 1.0)):
        share = min(range(shares), key=lambda s: loads[s])
        owner[place] = share
        loads[share] += COSTS.get(names[place], 1.0)
    return owner


def draw_share(sweep_dir: str | Path, share: int = 0, shares: int = 1, jobs=None) -> Share:
    """Draws share `share` of `shares` of the report's figures (the first share also writes
    summary.csv/.md). `jobs`: the folder's, loaded already; None: loaded here."""
    sweep_dir = Path(sweep_dir)
    jobs = load_jobs(sweep_dir) if jobs is None else jobs
    if not jobs:
        return Share()
    objective = sweep_objective(sweep_dir, jobs)
    summaries, swept = summarize(jobs, objective)
    result = Share()
    if share == 0:
        result.summary = write_summary(summaries, swept, sweep_dir, objective)
        result.ranked_by, _ = primary_metric(summaries, objective)
    metric, _ = primary_metric(summaries)  # what the figures plot
    drawings = _drawings(sweep_dir, jobs, summaries, swept, metric)
    owners = shared_out([name for name, _ in drawings], shares)
    for place, (_, draw) in enumerate(drawings):
        if owners[place] == share:
            result.drawn[place] = draw()
    return result


def build_report(sweep_dir: str | Path, jobs: list | None = None) -> list[Path]:
    """Writes everything that applies into the sweep folder; returns the files written.
    `jobs`: the folder's, loaded already (reglab.report.jobs.load_jobs); None: loaded here."""
    sweep_dir = Path(sweep_dir)
    jobs = load_jobs(sweep_dir) if jobs is None else jobs
    if not jobs:
        return []
    return write_page(sweep_dir, jobs, [draw_share(sweep_dir, jobs=jobs)])
