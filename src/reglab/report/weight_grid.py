"""The weight histograms of a sweep as small multiples: a row per configuration, a column per
layer, each panel small enough that 24 configurations still read (laid out by hand: a
layout engine takes seconds over a hundred panels)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import to_rgba
from matplotlib.patches import StepPatch
from matplotlib.ticker import MaxNLocator

from reglab.outputs.figure_files import save_figure
from reglab.report.jobs import Job
from reglab.report.style import SweepStyle
from reglab.report.summary import config_key

BINS = 40
PANEL_W, PANEL_H = 2.3, 0.78  # inches
GAP_W, GAP_H = 0.45, 0.16  # room for a panel's y ticks; between rows
TOP, BOTTOM, RIGHT = 0.45, 0.65, 0.15
CHAR_W = 0.075  # inches per character of an 8-point row label (a generous estimate)
LABEL_OFFSET = 38  # points left of a row's first panel: its y ticks and label


def _edges(values: list[np.ndarray]) -> np.ndarray:
    low = min(float(v.min()) for v in values)
    high = max(float(v.max()) for v in values)
    if high <= low:
        high = low + 1e-6
    return np.linspace(low, high, BINS + 1)


def _fractions(
    weights: list[tuple[Job, dict[str, torch.Tensor]]], layer: str, edges: np.ndarray
) -> dict:
    """config -> each seed's fraction of the layer's weights per bin."""
    fractions: dict = {}
    for job, w in weights:
        if layer in w:
            counts, _ = np.histogram(w[layer].flatten().float().numpy(), bins=edges)
            fractions.setdefault(config_key(job), []).append(counts / max(counts.sum(), 1))
    return fractions


def _add_seed(ax, fraction: np.ndarray, edges: np.ndarray, color) -> None:
    """A seed's histogram: a light fill under an outline in its configuration's colour, one
    patch. Added as an artist: `stairs` / `add_patch` update the data limits from every
    vertex, which the fixed limits do not need (a third of the figure's time at 10 rows)."""
    patch = StepPatch(
        fraction, edges, baseline=0.0, facecolor=to_rgba(color, 0.18), edgecolor=color, lw=1.0
    )
    ax.add_artist(patch)


def draw_weight_grid(
    weights: list[tuple[Job, dict[str, torch.Tensor]]], style: SweepStyle, path: Path
) -> Path:
    layers = list(dict.fromkeys(layer for _, w in weights for layer in w))
    configs = [c for c in style.configs if any(config_key(j) == c for j, _ in weights)]
    rows, cols = len(configs), len(layers)
    label_w = min(4.5, 0.9 + CHAR_W * max(len(style.label(c)) for c in configs))
    width = label_w + cols * PANEL_W + (cols - 1) * GAP_W + RIGHT
    height = TOP + rows * PANEL_H + (rows - 1) * GAP_H + BOTTOM
    # Limits and ticks are set by hand, per column, and autoscaling is off: shared axes and
    # a tick locator per panel cost seconds at 24 rows.
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(width, height),
        squeeze=False,
        gridspec_kw={"wspace": GAP_W / PANEL_W, "hspace": GAP_H / PANEL_H},
    )
    fig.subplots_adjust(
        left=label_w / width,
        right=1 - RIGHT / width,
        top=1 - TOP / height,
        bottom=BOTTOM / height,
    )
    for col, layer in enumerate(layers):
        edges = _edges([w[layer].flatten().float().numpy() for _, w in weights if layer in w])
        fractions = _fractions(weights, layer, edges)
        top = 1.08 * max((float(f.max()) for fs in fractions.values() for f in fs), default=1.0)
        xticks = [t for t in MaxNLocator(5).tick_values(edges[0], edges[-1])]
        xticks = [t for t in xticks if edges[0] <= t <= edges[-1]]
        yticks = [t for t in MaxNLocator(2).tick_values(0, top) if t <= top]
        shapes = sorted({"x".join(map(str, w[layer].shape)) for _, w in weights if layer in w})
        axes[0][col].set_title(f"{layer} ({' / '.join(shapes)})", fontsize=9)
        for row, config in enumerate(configs):
            ax = axes[row][col]
            ax.set_autoscale_on(False)
            ax.set_xlim(edges[0], edges[-1])
            ax.set_ylim(0, top or 1.0)
            bottom = row == rows - 1
            ax.set_xticks(xticks, [f"{t:g}" for t in xticks] if bottom else [])
            ax.set_yticks(yticks, [f"{t:g}" for t in yticks])
            ax.tick_params(labelsize=6, length=2, pad=1)
            color = style.color(config)
            for fraction in fractions.get(config, []):
                _add_seed(ax, fraction, edges, color)
            ax.plot([0.0, 0.0], [0.0, top], color="0.6", lw=0.5, zorder=0)  # zero
            if bottom:
                ax.set_xlabel("weight value", fontsize=8)
            if col == 0:
                ax.set_ylabel("fraction", fontsize=7, labelpad=2)
                ax.annotate(  # the row's name, left of the y ticks
                    f"{style.label(config)} (n={len(fractions.get(config, []))})",
                    xy=(0.0, 0.5),
                    xycoords="axes fraction",
                    xytext=(-LABEL_OFFSET, 0),
                    textcoords="offset points",
                    ha="right",
                    va="center",
                    fontsize=8,
                )
    fig.supxlabel(
        "final weights (last.ckpt): fraction of the layer's weights per bin, each outline a seed",
        fontsize=9,
        y=0.0,
    )
    return save_figure(fig, path, laid_out=True)
