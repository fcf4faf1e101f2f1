"""Figures for a sweep summary: the metric against each swept parameter, the metric per
configuration, learning curves per configuration (mean ± std over seeds)."""

import itertools
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from reglab.outputs.figure_files import save_figure
from reglab.outputs.plots import epoch_axis
from reglab.report.style import (
    config_labels,
    legend_beside,
    metric_label,
    plot_mean_band,
    scale_for,
    set_scale,
    sweep_style,
)
from reglab.report.summary import ConfigSummary

GROUP_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SEEDS_NOTE = "mean ± std over seeds"
GEOMETRIC_SEEDS_NOTE = "geometric mean ×/÷ geometric std over seeds"


def _number(text: str | None) -> float | None:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _regression(summaries: list[ConfigSummary]) -> bool:
    return any(j.task == "regression" for s in summaries for j in s.completed if j.rows)


def plot_metric_vs_params(
    summaries: list[ConfigSummary], swept: list[str], metric: str, out_dir: Path
) -> list[Path]:
    """<metric>_vs_<param>.png for each numeric swept parameter; <metric>_by_config.png."""
    written = [
        path
        for param in swept
        if (path := plot_metric_vs_param(summaries, swept, metric, param, out_dir)) is not None
    ]
    by_config = plot_metric_by_config(summaries, metric, out_dir)
    return written + ([by_config] if by_config else [])


def plot_metric_vs_param(
    summaries: list[ConfigSummary], swept: list[str], metric: str, param: str, out_dir: Path
) -> Path | None:
    """The metric against one numeric parameter: each configuration a point in its colour
    (error bar: std over seeds), a grey line through the points that share the other
    parameters' values (one dash pattern and marker per setting of the others)."""
    points = [(s, _number(s.params.get(param)), s.mean_std(metric)) for s in summaries]
    if any(x is None for _, x, _ in points):
        return None  # categorical: see the per-configuration figure
    points = [(s, x, stat) for s, x, stat in points if stat is not None]
    others = [k for k in swept if k != param]
    groups: dict[tuple[str, ...], list] = {}
    for s, x, stat in points:
        groups.setdefault(tuple(f"{k}={s.params.get(k)}" for k in others), []).append((x, s, stat))
    lines = {g: sorted(v, key=lambda p: p[0]) for g, v in groups.items()}
    connected = any(len(v) > 1 for v in lines.values())
    if not connected and len(points) < 3:
        return None  # nothing to see against this parameter
    style = sweep_style(j for s in summaries for j in s.jobs)
    names = config_labels(list(lines))
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    xs_all = []
    for i, (group, values) in enumerate(lines.items()):
        marker = GROUP_MARKERS[i % len(GROUP_MARKERS)] if connected else "o"
        xs = [x for x, _, _ in values]
        xs_all += xs
        if len(values) > 1:
            ax.plot(xs, [st[0] for _, _, st in values], ("-", "--", ":", "-.")[i % 4], color="0.45")
        for x, s, (mean, std) in values:
            ax.errorbar(
                x,
                mean,
                yerr=std if len(s.completed) > 1 else None,
                marker=marker,
                color=style.color(s.overrides),
                capsize=3,
                markersize=6,
                zorder=3,
            )
        if connected and len(lines) > 1:  # a legend entry per setting of the others
            ax.add_line(Line2D([], [], color="0.45", marker=marker, label=names[group]))
    set_scale(ax, "x", xs_all)
    set_scale(ax, "y", [v for _, _, (m, sd) in points for v in (m - sd, m + sd)])
    ax.set_xlabel(param)
    ax.set_ylabel(f"{metric_label(metric, _regression(summaries))}\n({SEEDS_NOTE})")
    ax.grid(alpha=0.3)
    legend_beside(ax, title="colour: configuration" if len(lines) > 1 else None)
    name = f"{metric.replace('/', '_')}_vs_{_safe(param)}.png"
    return save_figure(fig, out_dir / name)


def _decimals(means: list[float]) -> int:
    """Decimals that tell the closest two means apart: 2 to 4, as summary.md's (a 10,000-image
    test set's accuracy moves in steps of 1e-4)."""
    ordered = sorted(set(means))
    gaps = [b - a for a, b in itertools.pairwise(ordered) if b > a]
    if not gaps:
        return 3
    return min(4, max(2, 1 - math.floor(math.log10(min(gaps)))))


def _value_text(mean: float, std: float, digits: int) -> str:
    """`0.8534 ± 0.0021`; an exploded loss as `1.02e+14 ± 3.1e+13`, as summary.md does."""
    if abs(mean) >= 1e5 or 0 < abs(mean) < 1e-3:
        return f"{mean:.3g}" + (f" ± {std:.2g}" if std else "")
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std else "")


def plot_metric_by_config(
    summaries: list[ConfigSummary], metric: str, out_dir: Path
) -> Path | None:
    """One row per configuration, best first: the mean as a point with a ± std error bar,
    each seed a small dot, the numbers printed beside the axes. Points, not bars: the axis
    is zoomed to where the configurations differ, and a bar would have to start at zero."""
    rows = [(s, s.mean_std(metric)) for s in summaries]
    rows = [(s, st) for s, st in rows if st is not None]
    if not rows:
        return None
    style = sweep_style(j for s in summaries for j in s.jobs)
    fig, ax = plt.subplots(figsize=(7.0, max(2.4, 1.0 + 0.32 * len(rows))))
    digits = _decimals([st[0] for _, st in rows])
    # a loss that exploded in one configuration: a log axis, the others still apart
    scale = set_scale(
        ax, "x", [v for s, (m, sd) in rows for v in (m - sd, m + sd, *s.values(metric))]
    )
    for y, (s, (mean, std)) in enumerate(rows):
        color = style.color(s.overrides)
        seeds = s.values(metric)
        if len(seeds) > 1:
            ax.plot(seeds, [y] * len(seeds), "o", mfc="none", mec=color, ms=4, alpha=0.7)
        ax.errorbar(
            mean, y, xerr=std if len(seeds) > 1 else None, fmt="o", color=color, capsize=3, ms=6
        )
        text = _value_text(mean, std, digits) + (f" (n={len(seeds)})" if std else "")
        ax.annotate(
            text,
            xy=(1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), [style.label(s.overrides) for s, _ in rows], fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # best at the top
    ax.set_ylabel("configuration (best first)")
    ax.set_xlabel(f"{metric_label(metric, _regression(summaries))} ({SEEDS_NOTE}; o: a seed)")
    if scale == "linear":
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # long decimals: room between ticks
    ax.grid(alpha=0.3, axis="x")
    return save_figure(fig, out_dir / f"{metric.replace('/', '_')}_by_config.png")


def plot_curves_by_config(
    summaries: list[ConfigSummary], swept: list[str], path: Path
) -> Path | None:
    """The per-epoch evaluation curve (accuracy, else loss) per configuration: the mean over
    its seeds as a line, ± one std as a band, in the configuration's colour (the test curve
    where the test set is evaluated every epoch: protocol=d2l)."""
    rows = [r for s in summaries for j in s.completed for r in j.rows]
    stage = "test" if any("test/loss" in r for r in rows) else "val"
    key = f"{stage}/acc" if any(f"{stage}/acc" in r for r in rows) else f"{stage}/loss"
    style = sweep_style(j for s in summaries for j in s.jobs)
    by_config = {s.overrides: s for s in summaries}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = []
    # a loss spanning decades: a log axis, and its band in logarithms (never below zero)
    loss = key.endswith("/loss")
    geometric = loss and scale_for(r[key] for r in rows if key in r) == "log"
    for config in style.configs:
        s = by_config.get(config)
        runs = (
            [[(r["epoch"], r[key]) for r in j.rows if key in r] for j in s.completed] if s else []
        )
        if not any(runs):
            continue
        per_epoch: dict[float, int] = {}  # how many jobs each point averages
        for run in runs:
            for epoch, value in run:
                per_epoch[epoch] = per_epoch.get(epoch, 0) + math.isfinite(value)
        counts = sorted(set(per_epoch.values()))
        n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
        drawn += plot_mean_band(
            ax,
            runs,
            style.color(config),
            f"{style.label(config)} (n={n})",
            style.linestyle(config),
            geometric=geometric,
            floor=0.0 if loss else None,
        )
    if not drawn:
        plt.close(fig)
        return None
    epoch_axis(ax)
    set_scale(ax, "y", drawn)
    note = GEOMETRIC_SEEDS_NOTE if geometric else SEEDS_NOTE
    ax.set_ylabel(f"{metric_label(key, _regression(summaries))}\n({note})")
    ax.grid(alpha=0.3)
    legend_beside(ax)
    return save_figure(fig, path)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
