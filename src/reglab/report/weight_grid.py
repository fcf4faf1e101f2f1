"""The weight histograms of a sweep as small multiples: a row per configuration, a column per
layer, each panel small enough that 24 configurations still read (laid out by hand: a
layout engine takes seconds over a hundred panels)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from reglab.outputs.figure_files import save_figure
from reglab.report.jobs import Job
from reglab.report.style import SweepStyle
from reglab.report.summary import config_key

BINS = 40
PANEL_W, PANEL_H = 2.3, 0.78  # inches
GAP_W, GAP_H = 0.45, 0.16  # room for a panel's y ticks; between rows
TOP, BOTTOM, RIGHT = 0.45, 0.65, 0.15
CHAR_W = 0.062  # inches per character of an 8-point row label
LABEL_OFFSET = 34  # points left of a row's first panel: its y ticks and label


def _edges(values: list[np.ndarray]) -> np.ndarray:
    low = min(float(v.min()) for v in values)
    high = max(float(v.max()) for v in values)
    if high <= low:
        high = low + 1e-6
    return np.linspace(low, high, BINS + 1)


def draw_weight_grid(
    weights: list[tuple[Job, dict[str, torch.Tensor]]], style: SweepStyle, path: Path
) -> Path:
    layers = list(dict.fromkeys(layer for _, w in weights for layer in w))
    configs = [c for c in style.configs if any(config_key(j) == c for j, _ in weights)]
    rows, cols = len(configs), len(layers)
    label_w = min(4.0, 0.8 + CHAR_W * max(len(style.label(c)) for c in configs))
    width = label_w + cols * PANEL_W + (cols - 1) * GAP_W + RIGHT
    height = TOP + rows * PANEL_H + (rows - 1) * GAP_H + BOTTOM
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(width, height),
        squeeze=False,
        sharex="col",
        sharey="col",
        gridspec_kw={"wspace": GAP_W / PANEL_W, "hspace": GAP_H / PANEL_H},
    )
    fig.subplots_adjust(
        left=label_w / width,
        right=1 - RIGHT / width,
        top=1 - TOP / height,
        bottom=BOTTOM / height,
    )
    flat = {
        (config_key(job), layer): [] for job, _ in weights for layer in layers
    }  # (config, layer) -> the seeds' weights
    for job, w in weights:
        for layer, tensor in w.items():
            flat[(config_key(job), layer)].append(tensor.flatten().float().numpy())
    for col, layer in enumerate(layers):
        edges = _edges([v for (_, lay), vs in flat.items() if lay == layer for v in vs])
        shapes = sorted({"x".join(map(str, w[layer].shape)) for _, w in weights if layer in w})
        axes[0][col].set_title(f"{layer} ({' / '.join(shapes)})", fontsize=9)
        peak = 0.0
        for row, config in enumerate(configs):
            ax = axes[row][col]
            color = style.color(config)
            for values in flat[(config, layer)]:
                counts, _ = np.histogram(values, bins=edges)
                fraction = counts / max(len(values), 1)
                peak = max(peak, float(fraction.max()))
                ax.stairs(fraction, edges, color=color, fill=True, alpha=0.18)
                ax.stairs(fraction, edges, color=color, lw=1.0)
            ax.axvline(0.0, color="0.6", lw=0.5, zorder=0)
            ax.tick_params(labelsize=6, length=2, pad=1)
            if col == 0:
                ax.set_ylabel("fraction", fontsize=7, labelpad=2)
                n = len(flat[(config, layer)])
                ax.annotate(  # the row's name, left of the y ticks
                    f"{style.label(config)} (n={n})",
                    xy=(0.0, 0.5),
                    xycoords="axes fraction",
                    xytext=(-LABEL_OFFSET, 0),
                    textcoords="offset points",
                    ha="right",
                    va="center",
                    fontsize=8,
                )
        axes[0][col].set_ylim(0, 1.08 * peak or 1.0)  # shared down the column
    for ax in axes[-1]:
        ax.set_xlabel("weight value", fontsize=8)
    fig.supxlabel(
        "final weights (last.ckpt): fraction of the layer's weights per bin, each outline a seed",
        fontsize=9,
        y=0.0,
    )
    return save_figure(fig, path, laid_out=True)
