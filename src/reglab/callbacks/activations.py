"""Activation statistics: mean and variance of each hidden layer's activations per epoch, in
train mode and in eval mode, on a fixed batch (the d2l dropout exercise's var1/var2 curves).

A hidden layer's activations are what it feeds forward (the input of the next weight layer):
after its activation function and any noise/dropout. In train mode dropout is active, in eval
mode it is not. The measurement restores the random-number state, so switching this
instrument on does not change the run.
"""

from pathlib import Path

import lightning as L
import torch
from torch import nn

from reglab.callbacks.norms import weight_layers
from reglab.lit.publish import publish
from reglab.outputs.plots import epoch_axis


@torch.no_grad()
def hidden_activation_stats(net: nn.Module, x: torch.Tensor) -> dict[str, tuple[float, float]]:
    """{role key: (mean, variance)} of each hidden layer's activations for inputs x, in net's
    mode. A layer's activations are captured as the input of the weight layer after it."""
    captured: list[torch.Tensor] = []
    named = list(weight_layers(net).items())
    producers = [name for name, _ in named[:-1]]  # the layer whose output each input is
    layers = [layer for _, layer in named[1:]]  # the first weight layer reads the input
    hooks = [
        layer.register_forward_pre_hook(lambda m, args: captured.append(args[0]))
        for layer in layers
    ]
    try:
        net(x)
    finally:
        for hook in hooks:
            hook.remove()
    return {
        name: (float(a.mean()), float(a.var(unbiased=False)))
        for name, a in zip(producers, captured, strict=True)
    }


class ActivationStats(L.Callback):
    def __init__(self, output_dir: str | Path | None = None, num_samples: int = 1024):
        self.output_dir = Path(output_dir) if output_dir else None
        self.num_samples = num_samples
        self.history: list[dict] = []
        self._batch: torch.Tensor | None = None

    def on_fit_start(self, trainer, pl_module) -> None:
        dm = trainer.datamodule
        splits = getattr(dm, "splits", None)
        if splits is not None:  # a fixed batch of validation inputs, prepared as in training
            self._batch = dm.prepare_inputs(splits.x_val[: self.num_samples].clone())

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._batch is None:
            return
        net = getattr(pl_module, "net", pl_module)
        was_training = net.training
        rng = torch.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        values = {"epoch": trainer.current_epoch + 1}
        try:
            for mode in ("train", "eval"):
                net.train(mode == "train")
                for layer, (mean, var) in hidden_activation_stats(net, self._batch).items():
                    values[f"act/mean/{layer}/{mode}"] = mean
                    values[f"act/var/{layer}/{mode}"] = var
        finally:
            net.train(was_training)
            torch.set_rng_state(rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)
        self.history.append(values)
        publish(trainer, {k: v for k, v in values.items() if k != "epoch"})

    def on_train_end(self, trainer, pl_module) -> None:
        if self.output_dir is not None and self.history and trainer.is_global_zero:
            plot_activation_stats(self.history, self.output_dir / "activation_stats.png")


def plot_activation_stats(history: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from reglab.outputs.figure_files import save_figure

    # in forward order (hidden_1, hidden_2, ...), as first logged
    layers = list(dict.fromkeys(k.split("/")[2] for k in history[0] if k.startswith("act/var/")))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = [h["epoch"] for h in history]
    for ax, stat in zip(axes, ("var", "mean"), strict=True):
        for i, layer in enumerate(layers):
            for mode, style in (("train", "-"), ("eval", "--")):
                ax.plot(
                    epochs,
                    [h[f"act/{stat}/{layer}/{mode}"] for h in history],
                    style,
                    color=f"C{i % 10}",  # a colour per layer, the mode in the dash
                    marker="o" if len(epochs) < 30 else None,  # one epoch: still a visible point
                    label=f"{layer.replace('_', ' ')} {mode}",
                )
        ax.set_title(f"activation {'variance' if stat == 'var' else 'mean'} per hidden layer")
        ax.set_ylabel(f"activation {'variance' if stat == 'var' else 'mean'}")
        epoch_axis(ax)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    axes[1].legend(  # beside the panels, over no curve
        *axes[0].get_legend_handles_labels(),
        fontsize=8,
        title="solid: train mode, dashed: eval",
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
    )
    return save_figure(fig, path)
