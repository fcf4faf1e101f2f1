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


class RunArtifacts(L.Callback):
    def __init__(self, output_dir: str | Path, grid_points: int = 200):
        self.output_dir = Path(output_dir)
        self.grid_points = grid_points

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero or trainer.datamodule is None:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        dm = trainer.datamodule
        linear = getattr(pl_module.net, "linear", None)
        if linear is not None and getattr(dm, "true_weights", None) is not None:
            record = {
                "learned": linear.weight.detach().flatten().cpu().tolist(),
                "true": list(dm.true_weights),
            }
            if linear.bias is not None:
                record["learned_bias"] = linear.bias.detach().flatten().cpu().tolist()
            if getattr(dm, "true_bias", None) is not None:
                record["true_bias"] = dm.true_bias
            self._write(contract.WEIGHTS_JSON, record)
        if dm.info.in_shape == (1,) and dm.splits is not None:
            self._write(contract.FIT_JSON, self._fit(pl_module, dm.splits))

    @torch.no_grad()
    def _fit(self, pl_module, splits) -> dict:
        xs = torch.cat([splits.x_train, splits.x_test]).flatten()
        low, high = xs.min().item(), xs.max().item()
        pad = 0.05 * (high - low)
        grid = torch.linspace(low - pad, high + pad, self.grid_points, device=xs.device)
        was_training = pl_module.training
        pl_module.eval()
        prediction = pl_module(grid.unsqueeze(1)).flatten()
        pl_module.train(was_training)

        def points(x, y):
            return {"x": x.flatten().cpu().tolist(), "y": y.flatten().cpu().tolist()}

        return {
            "grid": points(grid, prediction),
            "train": points(splits.x_train, splits.y_train),
            "test": points(splits.x_test, splits.y_test),
        }

    def _write(self, name: str, record: dict) -> None:
        (self.output_dir / name).write_text(json.dumps(record, indent=1) + "\n")
