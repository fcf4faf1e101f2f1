"""Learning curves: one panel per quantity, train vs validation, per epoch."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from reglab.outputs.figure_files import DPI, save_figure

LABELS = {
    "loss": "loss",
    "acc": "accuracy",
    "penalty": "penalty",
    "w_norm": "weight norm",
    "lr": "learning rate",
    "loss_max": "largest batch loss so far",
}
UNITS = {"acc": "fraction correct", "w_norm": "L2"}


STAGE_NAMES = {"train": "training", "val": "validation", "test": "test"}


def epoch_axis(ax) -> None:
    """Epochs are whole numbers: a 1-epoch run gets the tick 1, not 0.96 ... 1.04; at most 6
    ticks, so that 4-digit epochs keep apart."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, min_n_ticks=1))


def _quantities(rows: Sequence[dict]) -> list[str]:
    """Quantities logged per epoch for train and val (test under protocol=d2l), loss first,
    skipping an all-zero penalty."""
    names = []
    for key in dict.fromkeys(k for row in rows for k in row):
        stage, _, name = key.partition("/")
        if stage not in ("train", "val", "test") or name.endswith("_best") or name in names:
            continue
        if name == "penalty" and not any(row.get(key) for row in rows):
            continue
        names.append(name)
    return sorted(names, key=lambda n: (n != "loss", n))


# The panels' layout, in inches, placed by hand from the measured tick labels: matplotlib's
# tight_layout and tight bounding box cost two of a figure's four drawings (curves.png took
# ~1.4 s a run, a third of a short job's time in a sweep).
COLUMNS = 3  # panels per row
AXES_W, AXES_H = 3.0, 2.1
TITLE_H, XAXIS_H = 0.32, 0.5  # above an axes: its title; below: tick labels and "epoch"
EDGE = 0.1  # the figure's margin
TICK_TO_LABEL = 0.2  # tick marks, pads and the space between tick labels and the axis label
LEGEND_GAP = 0.15


def _text_width(renderer, fig, text: str, fontsize) -> float:
    """`text`'s width in inches, as the renderer draws it."""
    width, _, _ = renderer.get_text_width_height_descent(
        text, FontProperties(size=fontsize), ismath="$" in text
    )
    return width / fig.dpi


def _tick_labels_width(renderer, fig, ax) -> float:
    """The widest y tick label's width in inches (the labels the axes will draw)."""
    lo, hi = sorted(ax.get_ylim())
    ticks = [t for t in ax.get_yticks() if lo <= t <= hi]
    labels = ax.yaxis.get_major_formatter().format_ticks(ticks)
    drawn = ax.yaxis.get_ticklabels()
    size = drawn[0].get_fontsize() if drawn else 10
    return max((_text_width(renderer, fig, label, size) for label in labels if label), default=0)


def _fit_label(renderer, fig, ax, label: str) -> None:
    """The y label, on two lines (before its unit) where one would be taller than the axes."""
    size = ax.yaxis.label.get_fontsize()
    if "(" in label and _text_width(renderer, fig, label, size) > AXES_H:
        label = label.replace(" (", "\n(", 1)
    ax.set_ylabel(label)


def plot_curves(rows: Sequence[dict], path: str | Path, log_loss: bool = False) -> Path:
    """Saves a figure of train/val curves from metrics.csv-style rows (one per epoch), and its
    .svg; `log_loss`: a regression (MSE) loss, on a log axis where it spans decades."""
    return plot_runs_curves({None: rows}, path, log_loss)


def _stage_lines(ax, runs: dict, palette: list, name: str, stages: set[str]) -> list[float]:
    """Each run's train / val / test curves of `name` on `ax` (the stages drawn added to
    `stages`); the values drawn. One run: a colour per stage, markers where the epochs are
    few; several: a colour per run (`palette`), a line style per stage."""
    values = []
    for index, (run, rows) in enumerate(runs.items()):
        # markers on 2,000 epochs are slow and unreadable
        marker = "o" if len(runs) == 1 and len(rows) <= 60 else None
        for stage, style in (("train", "-"), ("val", "--"), ("test", "--")):
            key = f"{stage}/{name}"
            points = [(row["epoch"], row[key]) for row in rows if key in row]
            if points:
                xs, ys = zip(*points, strict=True)
                colour = {} if run is None else {"color": palette[index], "linewidth": 0.9}
                label = STAGE_NAMES[stage] if run is None else None
                ax.plot(xs, ys, style, marker=marker, markersize=3, label=label, **colour)
                values += ys
                stages.add(stage)
    return values


def _legend_entries(axes, runs: dict, palette: list, stages: set[str]) -> tuple[list, list[str]]:
    """One run: its stages; several: each run's colour, then each stage's line style."""
    if list(runs) == [None]:
        return axes[0].get_legend_handles_labels()
    handles = [Line2D([], [], color=colour) for colour in palette]
    labels = [str(run) for run in runs]
    evaluated = [STAGE_NAMES[stage] for stage in ("val", "test") if stage in stages]
    for style, names in (("-", ["training"] if "train" in stages else []), ("--", evaluated)):
        if names:
            handles.append(Line2D([], [], color="0.2", linestyle=style))
            labels.append(" / ".join(names))
    return handles, labels


def plot_runs_curves(
    runs: dict[str | None, Sequence[dict]], path: str | Path, log_loss: bool = False
) -> Path:
    """`plot_curves` for several runs in one figure (a `seeds=N` run's replicas: {"seed 0":
    rows, ...}), each its own colour; {None: rows} is a single run's figure."""
    from reglab.report.style import colors, loss_unit, set_scale

    names = _quantities([row for rows in runs.values() for row in rows]) or ["loss"]
    columns = min(len(names), COLUMNS)
    grid_rows = -(-len(names) // columns)
    fig = plt.figure(dpi=DPI)
    renderer = fig.canvas.get_renderer()
    axes = [fig.add_axes((0, 0, 1, 1)) for _ in names]
    stages: set[str] = set()
    palette = colors(len(runs))  # a colour a run (a single run's: a colour a stage)
    for ax, name in zip(axes, names, strict=True):
        drawn = _stage_lines(ax, runs, palette, name, stages)
        epoch_axis(ax)
        ax.set_title(LABELS.get(name, name))
        unit = loss_unit(log_loss) if name in ("loss", "loss_max") else UNITS.get(name)
        label = f"{LABELS.get(name, name)} ({unit})" if unit else LABELS.get(name, name)
        _fit_label(renderer, fig, ax, label)
        if name == "loss":  # log where it spans decades, symmetric-log when it reaches 0
            set_scale(ax, "y", drawn)
        ax.grid(alpha=0.3)
    # each column as wide as its widest tick labels and axis label need
    lefts = [0.0] * columns
    for index, ax in enumerate(axes):
        label_lines = ax.get_ylabel().count("\n") + 1
        label_w = label_lines * ax.yaxis.label.get_fontsize() * 1.25 / 72
        need = _tick_labels_width(renderer, fig, ax) + TICK_TO_LABEL + label_w
        lefts[index % columns] = max(lefts[index % columns], need)
    handles, labels = _legend_entries(axes, runs, palette, stages)
    font = 10 if len(labels) <= 12 else 7
    legend_w = legend_h = 0.0
    if handles:  # handle, pads and the longest label; a line of text an entry
        legend_w = 0.75 + max(_text_width(renderer, fig, text, font) for text in labels)
        legend_h = 0.3 + len(labels) * font * 1.45 / 72
    width = EDGE + sum(left + AXES_W for left in lefts) + LEGEND_GAP + legend_w + EDGE
    cell_h = TITLE_H + AXES_H + XAXIS_H
    height = EDGE + max(grid_rows * cell_h, TITLE_H + legend_h) + EDGE
    fig.set_size_inches(width, height)
    for index, ax in enumerate(axes):
        row, column = divmod(index, columns)
        x = EDGE + sum(left + AXES_W for left in lefts[:column]) + lefts[column]
        y = height - EDGE - row * cell_h - TITLE_H - AXES_H
        ax.set_position((x / width, y / height, AXES_W / width, AXES_H / height))
    if handles:  # one legend for all panels, right of the first row: never over a curve
        fig.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=((width - EDGE - legend_w) / width, 1 - (EDGE + TITLE_H) / height),
            borderaxespad=0.0,
            fontsize=font,
        )
    return save_figure(fig, path, laid_out=True)
