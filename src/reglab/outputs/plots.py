"""Learning curves: one panel per quantity, train vs validation, per epoch."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from reglab.outputs.figure_files import save_figure

LABELS = {
    "loss": "loss",
    "acc": "accuracy",
    "penalty": "penalty",
    "w_norm": "weight norm",
    "lr": "learning rate",
    "loss_max": "largest batch loss",
}
UNITS = {"acc": "fraction correct", "w_norm": "L2"}


STAGE_NAMES = {"train": "training", "val": "validation", "test": "test"}


def epoch_axis(ax) -> None:
    """Epochs are whole numbers: a 1-epoch run gets the tick 1, not 0.96 ... 1.04."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


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


def plot_curves(rows: Sequence[dict], path: str | Path, log_loss: bool = False) -> Path:
    """Saves a figure of train/val curves from metrics.csv-style rows (one per epoch), and its
    .svg; `log_loss`: a regression (MSE) loss, on a log axis where it spans decades."""
    from reglab.report.style import loss_unit, set_scale

    names = _quantities(rows)
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(4.2 * max(len(names), 1), 3.4))
    axes = [axes] if len(names) <= 1 else list(axes)
    epochs = [row["epoch"] for row in rows]
    marker = "o" if len(rows) <= 60 else None  # markers on 2,000 epochs are slow and unreadable
    for ax, name in zip(axes, names, strict=False):
        drawn = []
        for stage, style in (("train", "-"), ("val", "--"), ("test", "--")):
            key = f"{stage}/{name}"
            points = [(e, row[key]) for e, row in zip(epochs, rows, strict=True) if key in row]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, marker=marker, markersize=3, label=STAGE_NAMES[stage])
                drawn += ys
        epoch_axis(ax)
        ax.set_title(LABELS.get(name, name))
        unit = loss_unit(log_loss) if name in ("loss", "loss_max") else UNITS.get(name)
        ax.set_ylabel(f"{LABELS.get(name, name)} ({unit})" if unit else LABELS.get(name, name))
        if name == "loss":
            set_scale(ax, "y", drawn)
        ax.grid(alpha=0.3)
    # one legend for all panels, beside the last: never over a curve
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save_figure(fig, path)
