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
from reglab.outputs.plots import epoch_axis
from reglab.report.figures import save_figure
from reglab.report.jobs import Job

log = logging.getLogger(__name__)


def plot_learning_curves(jobs: list[Job], path: Path) -> Path | None:
    """Train and validation loss per epoch, one line per job (log scale for regression, or
    when the losses span more than three decades)."""
    jobs = [j for j in jobs if j.rows]
    if not jobs:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    losses = []
    for ax, stage in zip(axes, ("train", jobs[0].epoch_stage), strict=True):
        for job in jobs:
            points = [(r["epoch"], r[f"{stage}/loss"]) for r in job.rows if f"{stage}/loss" in r]
            if points:
                # markers when there are few points: a 1-epoch series is one point
                marker = "o" if len(points) < 30 else None
                ax.plot(*zip(*points, strict=True), marker=marker, label=job.label)
                losses += [loss for _, loss in points]
        ax.set_title(
            f"{stage} loss" + (" (= test)" if stage == "val" and _val_is_test(jobs) else "")
        )
        epoch_axis(ax)
        if jobs[0].task == "regression" or _spans_decades(losses):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    return save_figure(fig, path)


def _spans_decades(values: list[float]) -> bool:
    """A loss that exploded in one job flattens the others on a linear axis."""
    finite = [v for v in values if v > 0 and v < float("inf")]
    return bool(finite) and max(finite) / min(finite) > 1e3


def _val_is_test(jobs: list[Job]) -> bool:
    return all(j.metrics.get("tested_checkpoint") == "last weights" for j in jobs if j.metrics)


def plot_fits(jobs: list[Job], path: Path) -> Path | None:
    """For 1-D regression: each job's fitted curve over the train and test points."""
    fits = [(job, job.artifact(contract.FIT_JSON)) for job in jobs]
    fits = [(job, fit) for job, fit in fits if fit]
    if not fits:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    first = fits[0][1]
    ax.scatter(
        first["train"]["x"], first["train"]["y"], c="tab:blue", marker="o", label="train", zorder=3
    )
    ax.scatter(
        first["test"]["x"], first["test"]["y"], c="tab:red", marker="x", label="test", zorder=3
    )
    for job, fit in fits:
        ax.plot(fit["grid"]["x"], fit["grid"]["y"], label=job.label)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def layer_weights(job: Job) -> dict[str, torch.Tensor]:
    """The weight matrices of the job's last checkpoint, by role ("hidden 1", ..., "output"):
    panels must compare the same layer across jobs, whatever dropout modules shift."""
    ckpt = contract.checkpoint(job.path, contract.LAST)
    if not ckpt.is_file():
        return {}
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as exc:  # a truncated checkpoint (full disk): leave the job out
        log.warning("Cannot read %s (%s): left out of the weight histograms", ckpt, exc)
        return {}
    return state_dict_weights_by_role(state)


def plot_weight_histograms(jobs: list[Job], path: Path) -> Path | None:
    """One panel per layer, the jobs' final weights overlaid (the course's histograms)."""
    weights = [(job, layer_weights(job)) for job in jobs]
    weights = [(job, w) for job, w in weights if w]
    if not weights:
        return None
    layers = list(dict.fromkeys(layer for _, w in weights for layer in w))
    fig, axes = plt.subplots(1, len(layers), figsize=(3.6 * len(layers), 3.2), squeeze=False)
    for ax, layer in zip(axes[0], layers, strict=True):
        for job, w in weights:
            if layer in w:
                ax.hist(w[layer].flatten().numpy(), bins=50, alpha=0.5, label=job.label)
        shapes = sorted(
            {"x".join(str(d) for d in w[layer].shape) for _, w in weights if layer in w}
        )
        shape = " / ".join(shapes)
        ax.set_title(f"{layer} ({shape})")
        ax.set_yscale("log")
    axes[0][-1].legend(fontsize=7)
    return save_figure(fig, path)


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
