"""experiment=dropout_rates: the d2l dropout exercise's figures (c) and (d): train and test
accuracy against one hidden layer's dropout rate with the other's fixed (first layer varied,
second at 0.5; second varied, first at 0.2), error bars = std over seeds."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab import contract
from reglab.report.jobs import Job
from reglab.report.style import legend_beside
from reglab.report.topic_tools import fmt, mean_std, override_value, save_png, write_text

# (panel title, index of the varied rate, index and value of the fixed one)
FAMILIES = (
    ("(c) first layer's rate varied, second at 0.5", 0, 1, 0.5),
    ("(d) second layer's rate varied, first at 0.2", 1, 0, 0.2),
)


def rates(job: Job) -> tuple[float, ...] | None:
    value = override_value(job, "regularizer.dropout")
    if not value or not value.startswith("["):
        return None
    return tuple(float(v) for v in value.strip("[]").split(","))


def report(jobs: list[Job], sweep_dir: Path) -> list[Path]:
    by_rates: dict[tuple[float, ...], list[Job]] = {}
    for job in jobs:
        r = rates(job)
        if job.status == contract.COMPLETED and r and len(r) == 2:
            by_rates.setdefault(r, []).append(job)
    if not by_rates:
        return []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    lines = []
    for ax, (title, varied, fixed, value) in zip(axes, FAMILIES, strict=True):
        family = sorted((r[varied], js) for r, js in by_rates.items() if r[fixed] == value)
        lines += [
            f"### {title}",
            "",
            "| rate | seeds | train acc | test acc |",
            "|---|---|---|---|",
        ]
        for key, label in (("train/acc", "train"), ("test/acc", "test")):
            points = [(x, mean_std(j.metrics.get(key) for j in js)) for x, js in family]
            points = [(x, *s) for x, s in points if s]
            if points:
                xs, means, stds = zip(*points, strict=True)
                ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label)
        for x, js in family:
            lines.append(
                f"| {x:g} | {len(js)} | {fmt(mean_std(j.metrics.get('train/acc') for j in js))} "
                f"| {fmt(mean_std(j.metrics.get('test/acc') for j in js))} |"
            )
        lines.append("")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("dropout rate")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (fraction correct; final epoch / tested checkpoint)")
    legend_beside(axes[1], entries_from=axes[0], title="mean ± std over seeds", title_fontsize=7)
    figure = save_png(fig, sweep_dir / "dropout_rates.png")
    md = write_text(sweep_dir / "dropout_rates.md", "\n".join(lines) + "\n")
    return [md, figure]
