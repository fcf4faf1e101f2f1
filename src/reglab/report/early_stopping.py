"""experiment=early_stopping: training, validation and test curves per epoch (the gap between
training and the others is the overfitting), the epoch where early stopping stopped (and the
epoch of the checkpoint it kept) marked; the test accuracy of the
chosen checkpoint against training on to the end."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from reglab.outputs.plots import epoch_axis
from reglab.report.jobs import Job
from reglab.report.style import legend_beside, metric_label
from reglab.report.topic_tools import by_case, fmt, mean_std, save_png, series, write_text


def best_epoch(job: Job) -> int | None:
    """The epoch of the checkpoint the test uses: the best by the task's monitor (val/acc,
    the first epoch that reached the maximum), whatever early stopping watches."""
    accs = series(job, "val/acc")
    return max(accs, key=lambda p: (p[1], -p[0]))[0] if accs else None


def report(jobs: list[Job], sweep_dir: Path) -> list[Path]:
    groups = by_case(jobs)
    stopped = groups.get("early_stopping", [])
    full = groups.get("none", [])
    if not stopped and not full:
        return []
    seeds = max(len(stopped), len(full))
    fig, axes = plt.subplots(2, seeds, figsize=(4.5 * seeds, 6.5), squeeze=False)
    for i in range(seeds):
        for row, metric in enumerate(("loss", "acc")):
            ax = axes[row][i]
            # the run without early stopping shows what would have come after the stop
            for job, style, name in (
                (full[i] if i < len(full) else None, ":", "no stop"),
                (stopped[i] if i < len(stopped) else None, "-", "early stop"),
            ):
                if job is None:
                    continue
                for key, color in (
                    (f"train/{metric}", "tab:gray"),
                    (f"val/{metric}", "tab:blue"),
                    (f"test_curve/{metric}", "tab:red"),
                ):
                    points = series(job, key)
                    if points:
                        ax.plot(
                            *zip(*points, strict=True),
                            style,
                            color=color,
                            label=f"{name}: {key.split('/')[0].replace('_curve', '')}",
                        )
            if i < len(stopped):
                job = stopped[i]
                epoch = job.metrics.get("epochs")
                if epoch:
                    ax.axvline(epoch, color="k", lw=1, label=f"stopped (epoch {int(epoch)})")
                best = best_epoch(job)
                if best:
                    ax.axvline(
                        best,
                        color="tab:green",
                        lw=1,
                        ls="--",
                        label=f"tested checkpoint (epoch {best})",
                    )
            epoch_axis(ax)
            ax.set_title(f"seed {i}: {metric}")
            ax.grid(alpha=0.3)
            if i == 0:  # train, val and test share the unit
                ax.set_ylabel(metric_label(f"train/{metric}").removeprefix("training "))
    # one legend for all panels (the same lines in each), beside the last column
    legend_beside(axes[0][-1], entries_from=axes[0][0])
    figure = save_png(fig, sweep_dir / "early_stopping.png")

    def stat(js, key):
        return fmt(mean_std(j.metrics.get(key) for j in js))

    lines = [
        "| configuration | seeds | epochs run | tested checkpoint's epoch (best val/acc) "
        "| test acc (tested checkpoint) | test acc at the last epoch | best val acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for case, js in (("early_stopping", stopped), ("none", full)):
        if js:
            lines.append(
                f"| {case} | {len(js)} | {fmt(mean_std(j.metrics.get('epochs') for j in js), 1)} "
                f"| {fmt(mean_std(best_epoch(j) for j in js), 1)} | {stat(js, 'test/acc')} "
                f"| {stat(js, 'test_curve/acc')} | {stat(js, 'val/acc_best')} |"
            )
    if full:
        lines += [
            "",
            "Early stopping watches val/loss; the test uses the best checkpoint by val/acc up to "
            "the stop (test_ckpt=auto), and so does the run without early stopping over all its "
            "epochs. 'test acc at the last epoch' is the last weights' (test_curve/acc).",
        ]
    md = write_text(sweep_dir / "early_stopping.md", "\n".join(lines) + "\n")
    return [md, figure]
