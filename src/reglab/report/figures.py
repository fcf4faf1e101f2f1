"""Figures for a sweep summary: the metric against each swept parameter, learning curves."""

import statistics
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab.outputs.plots import epoch_axis
from reglab.report.summary import ConfigSummary


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def plot_metric_vs_params(
    summaries: list[ConfigSummary], swept: list[str], metric: str, out_dir: Path
) -> list[Path]:
    """metric_vs_<param>.png for each numeric swept parameter (a line per setting of the
    others, error bars = std over seeds); metric_by_config.png, a bar per configuration."""
    written = []
    for param in swept:
        points = [(s, _number(s.params.get(param))) for s in summaries]
        if any(x is None for _, x in points):
            continue  # categorical: see the bar chart
        others = [k for k in swept if k != param]
        lines: dict[str, list] = {}
        for s, x in points:
            stat = s.mean_std(metric)
            if stat is not None:
                label = ", ".join(f"{k}={s.params.get(k)}" for k in others) or metric
                lines.setdefault(label, []).append((x, *stat))
        if not lines:
            continue
        lines = {label: v for label, v in lines.items() if len(v) > 1}  # a line, not a dot
        if not lines:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for label, values in lines.items():
            values.sort()
            xs, ys, errs = zip(*values, strict=True)
            ax.errorbar(xs, ys, yerr=errs, marker="o", capsize=3, label=label)
        ax.set_xlabel(param)
        ax.set_ylabel(f"{metric} (mean ± std over seeds)")
        ax.grid(alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=7)
        written.append(
            save_figure(fig, out_dir / f"{metric.replace('/', '_')}_vs_{_safe(param)}.png")
        )
    bars = [(s, s.mean_std(metric)) for s in summaries]
    bars = [(s, st) for s, st in bars if st is not None]
    if bars:
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(bars)), 4))
        labels = [", ".join(f"{k}={s.params.get(k)}" for k in swept) or "defaults" for s, _ in bars]
        spread = [st[1] if len(s.completed) > 1 else 0.0 for s, st in bars]
        drawn = ax.bar(
            range(len(bars)),
            [st[0] for _, st in bars],
            yerr=spread if any(spread) else None,  # no error bar for one seed
            capsize=3,
            color="tab:blue",
        )
        # the axis is zoomed to the values: print them, so a small gap does not look large
        ax.bar_label(drawn, fmt="%.4f", fontsize=7, padding=2)
        ax.set_xticks(range(len(bars)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(metric)
        low = min(st[0] - st[1] for _, st in bars)
        high = max(st[0] + st[1] for _, st in bars)
        ax.set_ylim(low - 0.1 * (high - low + 1e-9), high + 0.1 * (high - low + 1e-9))
        ax.grid(alpha=0.3, axis="y")
        written.append(save_figure(fig, out_dir / f"{metric.replace('/', '_')}_by_config.png"))
    return written


def plot_curves_by_config(
    summaries: list[ConfigSummary], swept: list[str], path: Path
) -> Path | None:
    """Validation curve (accuracy, else loss) per configuration, averaged over its seeds
    (the test curve where the test set is evaluated every epoch: protocol=d2l)."""
    rows = [r for s in summaries for j in s.completed for r in j.rows]
    stage = "test" if any("test/loss" in r for r in rows) else "val"
    key = f"{stage}/acc" if any(f"{stage}/acc" in r for r in rows) else f"{stage}/loss"
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = False
    for s in summaries:
        per_epoch: dict[float, list[float]] = {}
        for job in s.completed:
            for row in job.rows:
                if key in row:
                    per_epoch.setdefault(row["epoch"], []).append(row[key])
        if not per_epoch:
            continue
        epochs = sorted(per_epoch)
        means = [statistics.fmean(per_epoch[e]) for e in epochs]
        label = ", ".join(f"{k}={s.params.get(k)}" for k in swept) or "defaults"
        marker = "o" if len(epochs) < 30 else None  # a 1-epoch curve is one point: show it
        counts = sorted({len(per_epoch[e]) for e in epochs})  # the jobs each point averages
        n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        ax.plot(epochs, means, marker=marker, label=f"{label} (n={n})")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    epoch_axis(ax)
    ax.set_ylabel(f"{key} (mean over seeds)")
    if key.endswith("/loss"):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def save_figure(fig, path: Path) -> Path:
    # Long legends can defeat tight_layout; bbox_inches="tight" still keeps them on the page.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
