"""Figures that put a sweep's jobs side by side."""

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from reglab import contract
from reglab.models.roles import state_dict_weights_by_role
from reglab.outputs.atomic import write_text
from reglab.outputs.figure_files import save_figure
from reglab.outputs.plots import epoch_axis
from reglab.report.jobs import Job
from reglab.report.style import (
    Config,
    SweepStyle,
    legend_beside,
    loss_unit,
    plot_mean_band,
    scale_for,
    set_scale,
    sweep_style,
)
from reglab.report.summary import config_key
from reglab.report.weight_grid import draw_weight_grid

log = logging.getLogger(__name__)


def _by_config(jobs: list[Job], style: SweepStyle) -> dict[Config, list[Job]]:
    groups: dict[Config, list[Job]] = {config: [] for config in style.configs}
    for job in jobs:
        groups[config_key(job)].append(job)
    return {config: group for config, group in groups.items() if group}


def plot_learning_curves(jobs: list[Job], path: Path) -> Path | None:
    """Train and validation loss per epoch: every job a thin line in its configuration's
    colour, the configuration's mean over seeds a thick one, ± one std as a band (log scale
    where the losses span more than two decades, the geometric mean ×/÷ one geometric std
    there; symmetric-log when one reaches 0)."""
    style = sweep_style(jobs)
    jobs = [j for j in jobs if j.rows]
    if not jobs:
        return None
    regression = jobs[0].task == "regression"
    # the per-epoch evaluation: validation, or the test set where it is evaluated every epoch
    stages = ("train", jobs[0].epoch_stage)
    geometric = (
        scale_for(r[f"{s}/loss"] for j in jobs for r in j.rows for s in stages if f"{s}/loss" in r)
        == "log"
    )
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    losses = []
    for ax, stage in zip(axes, stages, strict=True):
        key = f"{stage}/loss"
        for config, group in _by_config(jobs, style).items():
            runs = [[(r["epoch"], r[key]) for r in job.rows if key in r] for job in group]
            runs = [run for run in runs if run]
            if not runs:
                continue
            color, dashes = style.color(config), style.linestyle(config)
            label = f"{style.label(config)} (n={len(runs)})"
            if len(runs) > 1:  # the seeds, thin, under their mean
                for run in runs:
                    marker = "o" if len(run) < 30 else None  # a 1-epoch run is one point
                    ax.plot(
                        *zip(*run, strict=True),
                        dashes,
                        color=color,
                        lw=0.7,
                        alpha=0.45,
                        marker=marker,
                        ms=2,
                    )
                    losses += [y for _, y in run]
            losses += plot_mean_band(
                ax,
                runs,
                color,
                label if stage == "train" else None,
                dashes,
                geometric=geometric,
                floor=0.0,
            )
        name = {"train": "training", "val": "validation", "test": "test"}[stage]
        ax.set_title(
            f"{name} loss" + (" (= test)" if stage == "val" and _val_is_test(jobs) else "")
        )
        epoch_axis(ax)
        ax.grid(alpha=0.3)
    set_scale(axes[0], "y", losses)  # shared by both panels
    axes[0].set_ylabel(f"loss ({loss_unit(regression)})")
    several = any(len(group) > 1 for group in _by_config(jobs, style).values())
    mean = "geometric mean (band: ×/÷ one geometric std)" if geometric else "mean (band: ± one std)"
    title = f"thin: a seed, thick: their {mean}" if several else None
    legend_beside(axes[1], entries_from=axes[0], title=title, title_fontsize=7)
    return save_figure(fig, path)


def _val_is_test(jobs: list[Job]) -> bool:
    return all(j.metrics.get("tested_checkpoint") == "last weights" for j in jobs if j.metrics)


def plot_fits(jobs: list[Job], path: Path) -> Path | None:
    """For 1-D regression: each job's fitted curve over the train and test points, the
    seeds of a configuration in its colour."""
    style = sweep_style(jobs)
    fits = [(job, job.artifact(contract.FIT_JSON)) for job in jobs]
    fits = [(job, fit) for job, fit in fits if fit]
    if not fits:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    first = fits[0][1]
    ax.scatter(
        first["train"]["x"],
        first["train"]["y"],
        c="0.2",
        marker="o",
        s=14,
        label="train",
        zorder=3,
    )
    ax.scatter(
        first["test"]["x"], first["test"]["y"], c="0.2", marker="x", s=14, label="test", zorder=3
    )
    labelled = set()
    for job, fit in fits:
        config = config_key(job)
        ax.plot(
            fit["grid"]["x"],
            fit["grid"]["y"],
            style.linestyle(config),
            color=style.color(config),
            label=None if config in labelled else style.label(config),
        )
        labelled.add(config)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    legend_beside(ax)
    return save_figure(fig, path)


def layer_weights(job: Job) -> dict[str, torch.Tensor]:
    """The weight matrices of the job's last checkpoint, by role ("hidden 1", ..., "output"):
    panels must compare the same layer across jobs, whatever dropout modules shift."""
    ckpt = job.folder.last_ckpt
    if not ckpt.is_file():
        return {}
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as exc:  # a truncated checkpoint (full disk): leave the job out
        log.warning("Cannot read %s (%s): left out of the weight histograms", ckpt, exc)
        return {}
    return state_dict_weights_by_role(state)


def plot_weight_histograms(jobs: list[Job], path: Path) -> Path | None:
    """Small multiples: a row per configuration, a column per layer (the course's
    histograms). A column shares its bins and axes, so one layer compares down the column;
    the seeds of a configuration are outlines in its colour."""
    style = sweep_style(jobs)
    weights = [(job, layer_weights(job)) for job in jobs]
    weights = [(job, w) for job, w in weights if w]
    if not weights:
        return None
    return draw_weight_grid(weights, style, path)


def weights_table(jobs: list[Job], path: Path) -> Path | None:
    """Learned vs true weights (poly / linear regression) as a markdown table."""
    records = [(job, job.artifact(contract.WEIGHTS_JSON)) for job in jobs]
    records = [(job, r) for job, r in records if r]
    if not records:
        return None
    lines = ["| job | learned weights | true weights | max abs error |", "|---|---|---|---|"]
    for job, r in records:
        n = min(len(r["learned"]), 8)
        error = max(abs(a - b) for a, b in zip(r["learned"], r["true"], strict=False))
        learned = ", ".join(f"{v:.3f}" for v in r["learned"][:n])
        true = ", ".join(f"{v:.3f}" for v in r["true"][:n])
        more = ", ..." if len(r["learned"]) > n else ""
        lines.append(f"| {job.label} | {learned}{more} | {true}{more} | {error:.3f} |")
    write_text(path, "\n".join(lines) + "\n")
    return path


def compare_jobs(jobs: list[Job], out_dir: str | Path) -> list[Path]:
    """Writes every figure that applies into out_dir; returns the files written."""
    out_dir = Path(out_dir)
    written = [
        plot_learning_curves(jobs, out_dir / "comparison.png"),
        plot_fits(jobs, out_dir / "fits.png"),
        plot_weight_histograms(jobs, out_dir / "weight_histograms.png"),
        weights_table(jobs, out_dir / "weights.md"),
    ]
    return [p for p in written if p is not None]
