"""experiment=norm_layers: final validation accuracy and the largest training-batch loss
against the batch size, one line per normalization layer (error bars: std over seeds)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab import contract
from reglab.report.jobs import Job
from reglab.report.style import legend_beside, metric_label, set_scale
from reglab.report.topic_tools import fmt, mean_std, override_value, save_png, write_text

NORM_ORDER = ("none", "batch", "layer", "group", "instance")
PANELS = (
    ("val/acc", "final validation accuracy"),
    ("train/loss_max", "largest training-batch loss"),
)


def grid(jobs: list[Job]) -> dict[str, dict[int, list[Job]]]:
    """norm -> batch size -> completed jobs."""
    table: dict[str, dict[int, list[Job]]] = {}
    for job in jobs:
        norm, batch = override_value(job, "model.norm"), override_value(job, "dataset.batch_size")
        if job.status == contract.COMPLETED and norm and batch:
            table.setdefault(norm, {}).setdefault(int(batch), []).append(job)
    order = {n: i for i, n in enumerate(NORM_ORDER)}
    return dict(sorted(table.items(), key=lambda kv: order.get(kv[0], len(order))))


def report(jobs: list[Job], sweep_dir: Path) -> list[Path]:
    table = grid(jobs)
    if not table:
        return []
    batches = sorted({b for per_batch in table.values() for b in per_batch})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    lines = []
    for ax, (key, title) in zip(axes, PANELS, strict=True):
        lines += [
            f"### {title} (`{key}`), mean ± std over seeds",
            "",
            "| norm | " + " | ".join(f"batch {b}" for b in batches) + " |",
            "|---|" + "---|" * len(batches),
        ]
        drawn = []
        for norm, per_batch in table.items():
            stats = {b: mean_std(j.metrics.get(key) for j in per_batch.get(b, [])) for b in batches}
            points = [(b, *stats[b]) for b in batches if stats[b] is not None]
            if points:
                xs, means, stds = zip(*points, strict=True)
                ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=norm)
                drawn += [m + s for m, s in zip(means, stds, strict=True)]
                drawn += [m - s for m, s in zip(means, stds, strict=True)]
            digits = 4 if key.endswith("acc") else 3
            lines.append(f"| {norm} | " + " | ".join(fmt(stats[b], digits) for b in batches) + " |")
        lines.append("")
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel("batch size")
        ax.set_title(title)
        ax.set_ylabel(f"{metric_label(key)}\n(mean ± std over seeds)")
        ax.grid(alpha=0.3)
        set_scale(ax, "y", drawn)
    legend_beside(axes[1], entries_from=axes[0], title="model.norm")
    figure = save_png(fig, sweep_dir / "norm_layers.png")
    md = write_text(sweep_dir / "norm_layers.md", "\n".join(lines) + "\n")
    return [md, figure]
