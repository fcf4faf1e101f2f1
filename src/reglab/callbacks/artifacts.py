"""Run artifacts for looking inside a model at the end of training.

weights.json  learned weights next to the true ones, when the data set knows them (poly and
              linear regression) and the model is one linear layer (d2l 4.4 prints these).
fit.json      the fitted function on a dense grid with the train and test points, for 1-D
              inputs (the course's toy regression plots these).
"""

import json
from pathlib import Path

import lightning as L
import torch

from reglab import contract
from reglab.callbacks.networks import networks
from reglab.outputs.atomic import write_text


class RunArtifacts(L.Callback):
    """Written once for a single run and a stack of replicas (reglab.callbacks.networks):
    each replica's files go to its own folder, from its own weights."""

    def __init__(self, output_dir: str | Path, grid_points: int = 200):
        self.output_dir = Path(output_dir)
        self.grid_points = grid_points

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        nets = networks(trainer, pl_module)
        dm = nets.data
        if dm is None:  # a user's own data module: no true weights, no splits
            return
        folders = nets.folders(self.output_dir)
        records: list[dict[str, dict]] = [{} for _ in folders]
        weight, bias = _linear_layer(nets)
        if weight is not None and getattr(dm, "true_weights", None) is not None:
            for k, record in enumerate(records):
                weights = {
                    "learned": weight[k].detach().flatten().cpu().tolist(),
                    "true": list(dm.true_weights),
                }
                if bias is not None:
                    weights["learned_bias"] = bias[k].detach().flatten().cpu().tolist()
                if getattr(dm, "true_bias", None) is not None:
                    weights["true_bias"] = dm.true_bias
                record[contract.WEIGHTS_JSON] = weights
        if dm.info.in_shape == (1,) and dm.splits is not None:
            for record, fit in zip(records, self._fits(nets, dm.splits), strict=True):
                record[contract.FIT_JSON] = fit
        diverged = nets.diverged.tolist()  # no artifacts, as a diverged single run has none
        for folder, record, skip in zip(folders, records, diverged, strict=True):
            if skip:
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for name, value in record.items():
                write_text(folder / name, json.dumps(value, indent=1) + "\n")

    @torch.no_grad()
    def _fits(self, nets, splits) -> list[dict]:
        """Each network's fitted function on a grid over the data, with the data's points."""
        xs = torch.cat([splits.x_train, splits.x_test]).flatten()
        low, high = xs.min().item(), xs.max().item()
        pad = 0.05 * (high - low)
        grid = torch.linspace(low - pad, high + pad, self.grid_points, device=xs.device)
        predictions = nets.outputs(grid.unsqueeze(1))  # (N, points, 1), evaluation mode

        def points(x, y):
            return {"x": x.flatten().cpu().tolist(), "y": y.flatten().cpu().tolist()}

        data = {
            "train": points(splits.x_train, splits.y_train),
            "test": points(splits.x_test, splits.y_test),
        }
        return [{"grid": points(grid, prediction), **data} for prediction in predictions]


def _linear_layer(nets) -> tuple:
    """The (N, ...) weight and bias (None: none) of the model's one linear layer (its `linear`:
    reglab's model=linear), or (None, None)."""
    architecture = nets.architecture
    linear = getattr(architecture, "linear", None)
    if not isinstance(linear, torch.nn.Linear):
        return None, None
    prefix = next(name for name, module in architecture.named_modules() if module is linear)
    params = nets.parameters()
    return params[f"{prefix}.weight"], params.get(f"{prefix}.bias")
