"""Per-class test accuracy (the PyTorch CIFAR-10 tutorial's per-class printout), as a table,
a bar chart, metrics (test/class_acc/<class>) and, with W&B, a W&B table."""

import re
from pathlib import Path

import lightning as L
import torch

from reglab.callbacks.networks import networks
from reglab.outputs.atomic import write_csv
from reglab.run_folder import RunFolder


class PerClassAccuracy(L.Callback):
    """Per replica under `seeds=N` (reglab.callbacks.networks): the test's predictions are
    (N, batch), each replica's table, chart and metrics its own (the W&B table goes to live
    loggers only: a single run's)."""

    def __init__(self, output_dir: str | Path):
        self.output_dir = Path(output_dir)
        self._correct: torch.Tensor | None = None  # (N, classes)
        self._total: torch.Tensor | None = None  # (classes,): every replica sees every sample

    def _names(self, info) -> list[str]:
        return list(info.class_names) or [str(i) for i in range(info.num_outputs)]

    def on_test_epoch_start(self, trainer, pl_module) -> None:
        self._correct = self._total = None

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        if not isinstance(outputs, dict) or "preds" not in outputs:
            return  # not a classification run
        n = networks(trainer, pl_module).data.info.num_outputs
        target = batch[1]
        preds = outputs["preds"].view(-1, len(target))  # (N, batch); a single run's N=1
        replicas = len(preds)
        # one bincount for all replicas: replica k's classes counted at k * n + class
        offsets = torch.arange(replicas, device=preds.device).unsqueeze(1) * n
        hits = (target + offsets)[preds == target]
        correct = torch.bincount(hits, minlength=replicas * n).view(replicas, n)
        total = torch.bincount(target, minlength=n)
        self._correct = correct if self._correct is None else self._correct + correct
        self._total = total if self._total is None else self._total + total

    def on_test_epoch_end(self, trainer, pl_module) -> None:
        if self._total is None:
            return
        nets = networks(trainer, pl_module)
        correct = trainer.strategy.reduce(self._correct, reduce_op="sum")
        total = trainer.strategy.reduce(self._total, reduce_op="sum")
        accuracy = correct.float() / total.clamp(min=1)  # (N, classes)
        names = self._names(nets.data.info)
        nets.publish(
            {f"test/class_acc/{_key(name)}": accuracy[:, i] for i, name in enumerate(names)}
        )
        if not trainer.is_global_zero:
            return
        folders = nets.folders(self.output_dir)
        for k, folder in enumerate(folders):
            rows = [
                {"class": name, "accuracy": acc, "correct": int(c), "total": int(t)}
                for name, acc, c, t in zip(
                    names, accuracy[k].cpu().tolist(), correct[k], total, strict=True
                )
            ]
            folder.mkdir(parents=True, exist_ok=True)
            write_csv(RunFolder(folder).per_class_csv, rows)
            plot_per_class(rows, folder / "per_class_accuracy.png")
            for logger in trainer.loggers:
                if hasattr(logger, "log_table"):  # WandbLogger
                    logger.log_table(
                        key="test/per_class_accuracy",
                        columns=["class", "accuracy", "correct", "total"],
                        data=[list(r.values()) for r in rows],
                    )


def _key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower()


def plot_per_class(rows: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reglab.outputs.figure_files import save_figure

    fig, ax = plt.subplots(figsize=(max(5, 0.7 * len(rows)), 3.6))
    bars = ax.bar([r["class"] for r in rows], [r["accuracy"] for r in rows], color="tab:blue")
    ax.bar_label(bars, labels=[f"{r['accuracy']:.2f}" for r in rows], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("class")
    ax.set_ylabel("test accuracy (fraction correct)")
    ax.set_title("per-class test accuracy")
    ax.tick_params(axis="x", rotation=45)
    return save_figure(fig, path)
