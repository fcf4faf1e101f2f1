"""Activation statistics: mean and variance of each hidden layer's activations per epoch, in
train mode and in eval mode, on a fixed batch (the d2l dropout exercise's var1/var2 curves).

A hidden layer's activations are what it feeds forward (the input of the next weight layer):
after its activation function and any noise/dropout. In train mode dropout is active, in eval
mode it is not. The measurement restores the random-number state, so switching this
instrument on does not change the run.
"""

from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from torch import nn

from reglab.callbacks.networks import networks
from reglab.callbacks.norms import weight_layers
from reglab.outputs.plots import epoch_axis


def hidden_layer_names(net: nn.Module) -> list[str]:
    """The role keys of the hidden layers whose activations are measured, in forward order."""
    return list(weight_layers(net))[:-1]  # each but the output layer feeds the next one


def activation_moments(
    net: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(means, variances), one per hidden layer (hidden_layer_names' order), of the
    activations of `forward(x)`, a forward through `net` (the module whose layers are hooked:
    the network itself, or the architecture a replica's weights are called through). A
    layer's activations are captured as the input of the weight layer after it. Tensors only,
    no host sync: it runs under torch.func.vmap for stacked replicas."""
    captured: list[torch.Tensor] = []
    layers = list(weight_layers(net).values())[1:]  # the first weight layer reads the input
    hooks = [
        layer.register_forward_pre_hook(lambda m, args: captured.append(args[0]))
        for layer in layers
    ]
    try:
        forward(x)
    finally:
        for hook in hooks:
            hook.remove()
    means = torch.stack([a.mean() for a in captured])
    variances = torch.stack([a.var(unbiased=False) for a in captured])
    return means, variances


@torch.no_grad()
def hidden_activation_stats(net: nn.Module, x: torch.Tensor) -> dict[str, tuple[float, float]]:
    """{role key: (mean, variance)} of each hidden layer's activations for inputs x, in net's
    mode."""
    means, variances = activation_moments(net, net, x)
    return {
        name: (float(m), float(v))
        for name, m, v in zip(hidden_layer_names(net), means, variances, strict=True)
    }


class ActivationStats(L.Callback):
    """Per replica under `seeds=N` (reglab.callbacks.networks): each replica's activations
    with its own weights (in train mode, its own dropout masks), its values in its
    metrics.csv and its activation_stats.png in its folder."""

    def __init__(self, output_dir: str | Path | None = None, num_samples: int = 1024):
        self.output_dir = Path(output_dir) if output_dir else None
        self.num_samples = num_samples
        self.histories: list[list[dict]] = []  # per replica (one for a single run)
        self._batch: torch.Tensor | None = None

    @property
    def history(self) -> list[dict]:
        """A single run's epochs (the first replica's)."""
        return self.histories[0] if self.histories else []

    def on_fit_start(self, trainer, pl_module) -> None:
        dm = networks(trainer, pl_module).data
        splits = getattr(dm, "splits", None)
        if splits is not None:  # a fixed batch of validation inputs, prepared as in training
            self._batch = dm.prepare_inputs(splits.x_val[: self.num_samples].clone())

    @torch.no_grad()
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._batch is None:
            return
        nets = networks(trainer, pl_module)
        rng = torch.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        values = {}
        try:
            for mode in ("train", "eval"):
                means, variances = nets.apply(activation_moments, self._batch, mode == "train")
                # each weight layer but the output one feeds the next: hidden_layer_names
                for i, layer in enumerate(list(nets.weight_names())[:-1]):
                    values[f"act/mean/{layer}/{mode}"] = means[:, i]
                    values[f"act/var/{layer}/{mode}"] = variances[:, i]
        finally:
            torch.set_rng_state(rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)
        nets.publish(values)
        columns = {k: v.cpu().tolist() for k, v in values.items()}
        recorded = nets.active.cpu().tolist()
        self.histories += [[] for _ in range(nets.num_replicas - len(self.histories))]
        for k, history in enumerate(self.histories):
            if recorded[k]:  # a stopped replica's rows end: so do its curves
                row = {"epoch": trainer.current_epoch + 1}
                history.append(row | {key: column[k] for key, column in columns.items()})

    def on_train_end(self, trainer, pl_module) -> None:
        if self.output_dir is None or not trainer.is_global_zero:
            return
        folders = networks(trainer, pl_module).folders(self.output_dir)
        for folder, history in zip(folders, self.histories, strict=False):
            if history:
                plot_activation_stats(history, folder / "activation_stats.png")


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
