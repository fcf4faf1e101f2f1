"""What makes a figure readable, pinned: whole-number epoch ticks (a 1-epoch run is at 1, not
0.96 ... 1.04)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab.outputs.plots import epoch_axis


def _ticks(epochs: list[int]) -> list[float]:
    fig, ax = plt.subplots()
    ax.plot(epochs, [0.5] * len(epochs), marker="o")
    epoch_axis(ax)
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    plt.close(fig)
    return ticks


def test_epoch_ticks_are_whole_numbers():
    assert _ticks([1]) == [1.0]
    assert all(float(t).is_integer() for t in _ticks([1, 2, 3]))
    assert all(float(t).is_integer() for t in _ticks(list(range(1, 41))))
