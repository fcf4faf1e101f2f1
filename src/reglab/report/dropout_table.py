"""experiment=dropout_table: the d2l dropout exercise's table, how much one run's last number
moves, and whether training without dropout "explodes" at lr 0.1.

- dropout_table.md: per configuration, train and test accuracy (mean ± std over seeds), and
  the spread of the per-epoch test accuracy over the last 10 epochs (min-max range and std
  within a run, averaged over seeds; the largest range of any seed).
- The exploding question: train/loss_max (the largest training-batch loss of the run) and the
  gradient norm per epoch (train/grad_norm_max, train/grad_norm_mean) of the `neither` and
  `dropout` runs, with the answer the numbers give; grad_norm.png shows the curves.
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab import contract
from reglab.outputs.plots import epoch_axis
from reglab.report.jobs import Job
from reglab.report.style import legend_beside, metric_label, set_scale, sweep_style
from reglab.report.summary import config_key
from reglab.report.topic_tools import (
    by_case,
    finite,
    fmt,
    mean_curve,
    mean_std,
    save_png,
    series,
    write_text,
)

LAST_EPOCHS = 10
EXPLODE_CASES = ("neither", "dropout")


def epoch_test_key(job: Job) -> tuple[str, str]:
    """The metrics.csv column with the test accuracy of every epoch, and what it is."""
    if any("test_curve/acc" in r for r in job.rows):
        return "test_curve/acc", "test accuracy (test_curve/acc)"
    if job.epoch_stage == "test":  # protocol=d2l: the test set every epoch
        return "test/acc", "test accuracy (protocol=d2l: the test set every epoch)"
    return "val/acc", "validation accuracy (no per-epoch test curve in this sweep)"


def last_epochs_spread(job: Job, key: str) -> tuple[float, float, float, float] | None:
    """(min, max, std, last) of the column over the last 10 epochs of one run."""
    values = finite(v for _, v in series(job, key))[-LAST_EPOCHS:]
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return min(values), max(values), std, values[-1]


def protocol_of(jobs: list[Job]) -> str:
    names = {
        j.metrics["choices"].get("protocol", "default") for j in jobs if "choices" in j.metrics
    }
    return ", ".join(sorted(names))


def epochs_of(jobs: list[Job]) -> str:
    return ", ".join(
        str(e)
        for e in sorted(
            {
                int(j.metrics["epochs"])
                for j in jobs
                if j.status == contract.COMPLETED and "epochs" in j.metrics
            }
        )
    )


def table(groups: dict[str, list[Job]]) -> tuple[list[str], str]:
    first = next(iter(groups.values()))[0]
    key, what = epoch_test_key(first)
    lines = [
        "| configuration | seeds | train acc | test acc | last-10-epoch range (mean over seeds) "
        "| largest range | std within a run | train/loss_max |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for case, jobs in groups.items():
        spreads = [s for s in (last_epochs_spread(j, key) for j in jobs) if s]
        ranges = [hi - lo for lo, hi, _, _ in spreads]
        test_acc = mean_std(j.metrics.get("test/acc") for j in jobs)
        cells = [
            case,
            str(len(jobs)),
            fmt(mean_std(j.metrics.get("train/acc") for j in jobs)),
            fmt(test_acc),
            fmt(mean_std(ranges)),
            f"{max(ranges):.4f}" if ranges else "—",
            fmt(mean_std(s[2] for s in spreads)),
            fmt(mean_std(j.metrics.get("train/loss_max") for j in jobs), 3),
        ]
        rows.append((-(test_acc or (0.0, 0.0))[0], "| " + " | ".join(cells) + " |"))
    lines += [row for _, row in sorted(rows)]
    return lines, f"Per-epoch column used for the spread: {what}, the last {LAST_EPOCHS} epochs."


def explode_answer(groups: dict[str, list[Job]], all_jobs: list[Job]) -> list[str]:
    """Does training without dropout explode at lr 0.1? Answered from train/loss_max and the
    gradient norm curve of the `neither` and `dropout` runs."""
    lines = [
        "## Does training without dropout explode at lr 0.1?",
        "",
        "| configuration | train/loss_max | grad norm, epoch 1 (mean of steps) "
        "| grad norm, last epoch (mean) | largest step grad norm (any epoch, any seed) "
        "| final train loss | diverged |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for case in EXPLODE_CASES:
        jobs = groups.get(case, [])
        everyone = [j for j in all_jobs if j.status in contract.FINAL and case_matches(j, case)]
        diverged = sum(1 for j in everyone if j.status == contract.DIVERGED)
        if not jobs:
            continue
        first = mean_std(dict(series(j, "train/grad_norm_mean")).get(1) for j in jobs)
        last = mean_std((series(j, "train/grad_norm_mean") or [(0, None)])[-1][1] for j in jobs)
        peak = finite(v for j in jobs for _, v in series(j, "train/grad_norm_max"))
        loss_max = mean_std(j.metrics.get("train/loss_max") for j in jobs)
        lines.append(
            f"| {case} | {fmt(loss_max, 3)} | {fmt(first, 3)} | {fmt(last, 3)} "
            f"| {max(peak):.3f} | {fmt(mean_std(j.metrics.get('train/loss') for j in jobs))} "
            f"| {diverged} of {len(everyone)} |"
            if peak
            else f"| {case} | {fmt(loss_max, 3)} | — | — | — | — | {diverged} of {len(everyone)} |"
        )
        initial = math.log(10)  # cross-entropy of a uniform prediction over 10 classes
        exploded = diverged or (loss_max and loss_max[0] > 2 * initial)
        verdicts.append(
            f"`{case}`: "
            + (
                "explodes: "
                if exploded
                else "does not explode: the largest training-batch loss "
                f"({loss_max[0]:.3f}) is the loss at initialisation (ln 10 = {initial:.3f}), "
            )
            + (
                f"the mean gradient norm goes from {first[0]:.3f} (epoch 1) to {last[0]:.3f} "
                f"(last epoch), the largest single step's is {max(peak):.3f}; "
                if first and last and peak
                else ""
            )
            + f"{diverged} of {len(everyone)} runs diverged."
        )
    if len(lines) == 4:
        return []
    return [*lines, "", *(f"- {v}" for v in verdicts), "", "![grad_norm](grad_norm.png)", ""]


def case_matches(job: Job, case: str) -> bool:
    return any(o.lstrip("+").partition("=")[2] == case for o in job.overrides if "case/" in o)


def plot_grad_norms(groups: dict[str, list[Job]], path: Path) -> Path | None:
    cases = [c for c in EXPLODE_CASES if c in groups]
    if not cases or not any(series(groups[c][0], "train/grad_norm_mean") for c in cases):
        return None
    style = sweep_style(j for group in groups.values() for j in group)
    # stacked: each panel's legend beside it, outside the other's data
    fig, axes = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    drawn: list[list[float]] = [[], []]
    for case in cases:
        color = style.color(config_key(groups[case][0]))
        for key, dashes in (("train/grad_norm_mean", "-"), ("train/grad_norm_max", ":")):
            curve = mean_curve(groups[case], key)
            if curve:
                epochs, means, _ = zip(*curve, strict=True)
                axes[0].plot(
                    epochs, means, dashes, color=color, label=f"{case}: {key.split('/')[1]}"
                )
                drawn[0] += means
        curve = mean_curve(groups[case], "train/loss")
        if curve:
            epochs, means, _ = zip(*curve, strict=True)
            axes[1].plot(epochs, means, color=color, label=f"{case}: train loss (epoch mean)")
            drawn[1] += means
    axes[0].set_title("gradient norm per epoch (mean over seeds)")
    axes[1].set_title("training loss")
    axes[0].set_ylabel("gradient norm (L2)")
    axes[1].set_ylabel(metric_label("train/loss"))
    for ax, values in zip(axes, drawn, strict=True):
        epoch_axis(ax)
        set_scale(ax, "y", values)
        ax.grid(alpha=0.3)
        legend_beside(ax)
    axes[0].set_xlabel("")  # shared with the panel below
    return save_png(fig, path)


def report(jobs: list[Job], sweep_dir: Path) -> list[Path]:
    groups = by_case(jobs)
    if not groups:
        return []
    lines, note = table(groups)
    text = [
        f"Protocol: {protocol_of(list(jobs))}; epochs: {epochs_of(list(jobs))}. "
        f"Test accuracy: mean ± std over seeds; {note}",
        "",
        *lines,
        "",
        *explode_answer(groups, jobs),
    ]
    figure = plot_grad_norms(groups, sweep_dir / "grad_norm.png")
    md = write_text(sweep_dir / "dropout_table.md", "\n".join(text) + "\n")
    return [md] + ([figure] if figure else [])
