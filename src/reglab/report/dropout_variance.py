"""experiment=dropout_variance: one figure per configuration of each hidden layer's activation
variance per epoch (the activation_stats instrument: train mode, after dropout, and eval
mode), mean over seeds with a std band."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab.outputs.plots import epoch_axis
from reglab.report.jobs import Job
from reglab.report.style import legend_beside, set_scale
from reglab.report.topic_tools import by_case, mean_curve, save_png, write_text

# act/var/<layer>/<mode>; the layer part is whatever the instrument names it
VARIANCE = re.compile(r"^act/var/(?P<layer>.+)/(?P<mode>train|eval)$")


def variance_columns(jobs: list[Job]) -> list[tuple[str, str, str]]:
    """(column, layer, mode) of the activation-variance columns, in the order they appear."""
    columns: dict[str, tuple[str, str, str]] = {}
    for job in jobs:
        for row in job.rows:
            for key in row:
                match = VARIANCE.match(key)
                if match and key not in columns:
                    columns[key] = (key, match["layer"], match["mode"])
    return list(columns.values())


def report(jobs: list[Job], sweep_dir: Path) -> list[Path]:
    written, lines = [], ["| configuration | layer | mode | variance, epoch 1 | last epoch |"]
    lines.append("|---|---|---|---|---|")
    for case, group in by_case(jobs).items():
        columns = variance_columns(group)
        if not columns:
            continue
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        drawn = []
        for key, layer, mode in columns:
            curve = mean_curve(group, key)
            if not curve:
                continue
            epochs, means, stds = zip(*curve, strict=True)
            style = "-" if mode == "train" else "--"
            line = ax.plot(epochs, means, style, label=f"{layer}, {mode} mode")[0]
            low = [m - s for m, s in zip(means, stds, strict=True)]
            high = [m + s for m, s in zip(means, stds, strict=True)]
            ax.fill_between(epochs, low, high, color=line.get_color(), alpha=0.15)
            drawn += [*low, *high]
            lines.append(f"| {case} | {layer} | {mode} | {means[0]:.4g} | {means[-1]:.4g} |")
        ax.set_title(f"{case}: hidden activation variance ({len(group)} seeds)")
        epoch_axis(ax)
        set_scale(ax, "y", drawn)
        ax.set_ylabel("activation variance\n(mean ± std over seeds)")
        ax.grid(alpha=0.3)
        legend_beside(ax)
        written.append(save_png(fig, sweep_dir / f"activation_variance_{case}.png"))
    if not written:
        return []
    md = write_text(sweep_dir / "dropout_variance.md", "\n".join(lines) + "\n")
    return [md, *written]
