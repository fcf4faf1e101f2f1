"""A W&B Report of a sweep, built with wandb-workspaces from the same jobs as report.md.

Built offline (nothing is sent until `save()`): `python -m reglab.report <dir>
--wandb-report ENTITY/PROJECT` prints what it would hold, and `--save` publishes it.
"""

import re
from pathlib import Path

import wandb_workspaces.reports.v2 as wr

from reglab.report.jobs import load_jobs
from reglab.report.page import sweep_command
from reglab.report.summary import primary_metric, summarize

# Config groups whose option is a string in the run's config under `choices.` (train.py)
CHOICE_GROUPS = {"dataset", "model", "regularizer", "optimizer", "hardware", "experiment"}


def config_key(swept: str) -> str:
    """A swept override key -> the key of the W&B run config that holds its value."""
    swept = re.sub(r"(\[\d+\]|\.\d+)$", "", swept.lstrip("+"))  # list element: the list
    return f"choices.{swept}" if swept in CHOICE_GROUPS else swept


def build_wandb_report(sweep_dir: str | Path, target: str) -> wr.Report:
    """The Report for the runs of this sweep (the W&B group named after the sweep folder)."""
    entity, _, project = target.partition("/")
    if not entity or not project:
        raise ValueError(f"--wandb-report wants ENTITY/PROJECT, got {target!r}")
    sweep_dir = Path(sweep_dir)
    jobs = load_jobs(sweep_dir)
    summaries, swept = summarize(jobs)
    metric, _ = primary_metric(summaries)
    kind = "acc" if metric and "acc" in metric else "loss"
    stage = jobs[0].epoch_stage if jobs else "val"  # test/* under protocol=d2l
    keys = list(dict.fromkeys(config_key(k) for k in swept))
    group_by = wr.Config("choices.regularizer")
    runset = wr.Runset(
        entity=entity, project=project, name=sweep_dir.name, filters=f"Group = '{sweep_dir.name}'"
    )
    panels = [
        wr.LinePlot(
            title=f"{stage}/{kind} by regularizer (mean ± std over seeds)",
            x="epoch",
            y=[f"{stage}/{kind}"],
            groupby=group_by,
            groupby_aggfunc="mean",
            groupby_rangefunc="stddev",
        ),
        wr.BarPlot(
            title=f"final test/{kind}",
            metrics=[f"test/{kind}"],
            groupby=group_by,
            groupby_aggfunc="mean",
            groupby_rangefunc="stddev",
        ),
        wr.ParallelCoordinatesPlot(
            title="swept keys against the result",
            columns=[wr.ParallelCoordinatesPlotColumn(metric=wr.Config(k)) for k in keys]
            + [wr.ParallelCoordinatesPlotColumn(metric=wr.SummaryMetric(f"test/{kind}"))],
        ),
    ]
    command = sweep_command(sweep_dir)
    summary_md = sweep_dir / "summary.md"
    blocks = [
        wr.H1(text=f"Sweep {sweep_dir.name}"),
        wr.P(text=f"{len(jobs)} jobs; swept: {', '.join(swept) or 'nothing'}."),
        *([wr.CodeBlock(code=command, language="markdown")] if command else []),
        wr.PanelGrid(runsets=[runset], panels=panels),
        *([wr.MarkdownBlock(text=summary_md.read_text())] if summary_md.is_file() else []),
    ]
    return wr.Report(
        entity=entity,
        project=project,
        title=f"reglab sweep {sweep_dir.name}",
        description=f"Built by `python -m reglab.report {sweep_dir} --wandb-report {target}`",
        blocks=blocks,
    )


def describe(report: wr.Report) -> list[str]:
    """What the Report holds, one line per block or panel (printed before saving)."""
    lines = [f"W&B Report {report.title!r} for {report.entity}/{report.project}:"]
    for block in report.blocks:
        lines.append(f"  {type(block).__name__}")
        for panel in getattr(block, "panels", []):
            lines.append(f"    {type(panel).__name__}: {panel.title}")
    return lines
