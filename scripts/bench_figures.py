"""A run's curves.png (and .svg), laid out by hand (reglab) against the same panels on a grid
of subplots laid out by matplotlib (tight_layout and a tight bounding box: how reglab drew it
before, the reference), in one process.

  classification  40 epochs: loss, accuracy, largest batch loss, lr, penalty, weight norm
  toy1d           2,000 epochs, a regression loss on a log axis (the course's toy run)
(the rows of tests/fake_sweeps.py, which the figure tests draw)

Each figure is drawn --rounds times by each way in turn; the fastest of each is kept. Last
line: `curves_speedup=<worst reference/reglab> classification=<x> toy1d=<y>`.

    PYTHONPATH=src python scripts/bench_figures.py [--rounds 5]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))  # tests.fake_sweeps: the rows the figure tests draw

from reglab.outputs import plots  # noqa: E402
from reglab.outputs.figure_files import save_figure  # noqa: E402
from tests.fake_sweeps import CLASSIFICATION_RUN, REGRESSION_RUN  # noqa: E402

RUNS = {"classification": (CLASSIFICATION_RUN, False), "toy1d": (REGRESSION_RUN, True)}


def matplotlib_laid_out(rows, path, log_loss=False):
    """The reference: the same panels, lines and labels on subplots, laid out by matplotlib."""
    import matplotlib.pyplot as plt

    from reglab.report.style import loss_unit, set_scale

    names = plots._quantities(rows)
    columns = min(len(names), plots.COLUMNS)
    grid_rows = -(-len(names) // columns)
    fig, axes = plt.subplots(grid_rows, columns, figsize=(4.2 * columns, 3.4 * grid_rows))
    axes = list(axes.flat)
    for ax in axes[len(names) :]:
        ax.remove()
    epochs = [row["epoch"] for row in rows]
    marker = "o" if len(rows) <= 60 else None
    for ax, name in zip(axes, names, strict=False):
        drawn = []
        for stage, style in (("train", "-"), ("val", "--"), ("test", "--")):
            key = f"{stage}/{name}"
            points = [(e, row[key]) for e, row in zip(epochs, rows, strict=True) if key in row]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, marker=marker, markersize=3, label=stage)
                drawn += ys
        plots.epoch_axis(ax)
        ax.set_title(plots.LABELS.get(name, name))
        unit = loss_unit(log_loss) if name in ("loss", "loss_max") else plots.UNITS.get(name)
        ax.set_ylabel(f"{plots.LABELS.get(name, name)} ({unit})" if unit else name)
        if name == "loss":
            set_scale(ax, "y", drawn)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[columns - 1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return save_figure(fig, path)


WAYS = {"reglab": plots.plot_curves, "reference": matplotlib_laid_out}


def seconds(way, rows, log_loss, path: Path) -> float:
    start = time.perf_counter()
    WAYS[way](rows, path, log_loss=log_loss)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (rows, log_loss) in RUNS.items():
            best = dict.fromkeys(WAYS, float("inf"))
            for _ in range(args.rounds):
                for way in WAYS:  # in turns: noise hits both alike
                    taken = seconds(way, rows, log_loss, Path(tmp) / f"{name}_{way}.png")
                    best[way] = min(best[way], taken)
            ratios[name] = best["reference"] / best["reglab"]
            print(
                f"{name}: reglab {best['reglab']:.3f} s, matplotlib's layout "
                f"{best['reference']:.3f} s: {ratios[name]:.2f}x",
                flush=True,
            )
    parts = " ".join(f"{name}={ratio:.2f}" for name, ratio in ratios.items())
    print(f"curves_speedup={min(ratios.values()):.2f} {parts}")


if __name__ == "__main__":
    main()
