"""experiment=lenet_regularizers: per-class test accuracy of every configuration side by side
(grouped bars, mean over seeds), from each job's per_class_accuracy.csv."""

import csv
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab.report.jobs import Job
from reglab.report.style import legend_beside, sweep_style
from reglab.report.summary import config_key
from reglab.report.topic_tools import by_case, save_png, write_text


def per_class(job: Job) -> dict[str, float]:
    path = job.folder.per_class_csv
    if not path.is_file():
        return {}
    with open(path) as f:
        return {row["class"]: float(row["accuracy"]) for row in csv.DictReader(f)}


def report(jobs: list[Job], sweep_dir: Path) -> list[Path]:
    table: dict[str, dict[str, float]] = {}
    for case, group in by_case(jobs).items():
        runs = [r for r in (per_class(j) for j in group) if r]
        if runs:
            table[case] = {c: statistics.fmean(r[c] for r in runs) for c in runs[0]}
    if not table:
        return []
    style = sweep_style(jobs)
    config_of = {case: config_key(group[0]) for case, group in by_case(jobs).items()}
    classes = list(next(iter(table.values())))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(classes)), 4.5))
    width = 0.8 / len(table)
    for i, (case, accuracy) in enumerate(table.items()):
        xs = [c + (i - (len(table) - 1) / 2) * width for c in range(len(classes))]
        color = style.color(config_of[case])
        ax.bar(xs, [accuracy[c] for c in classes], width, label=case, color=color)
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_xlabel("class")
    ax.set_ylabel("test accuracy (fraction correct,\nmean over seeds)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    legend_beside(ax)
    figure = save_png(fig, sweep_dir / "per_class_accuracy.png")
    lines = ["| class | " + " | ".join(table) + " |", "|---|" + "---|" * len(table)]
    for c in classes:
        lines.append(f"| {c} | " + " | ".join(f"{table[k][c]:.3f}" for k in table) + " |")
    md = write_text(sweep_dir / "per_class_accuracy.md", "\n".join(lines) + "\n")
    return [md, figure]
