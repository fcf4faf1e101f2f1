"""Generated regression data sets, seeded by `dataset.data_seed` (not by the run's `seed`).

  poly    d2l 4.4: x ~ N(0, 1), features x^i / i! for i < max_degree, y = features . w + noise,
          w = [5, 1.2, -3.4, 5.6, 0, ...]; the model sees the first `features` columns
          (4 = the true degree, 2 = underfit, 20 = overfit).
  linear  d2l 4.5: x ~ N(0, 1) in 200 dimensions, y = 0.01 * sum(x) + 0.05 + noise.
  toy1d   DeepShare course: x evenly on [-1, 1], y = 1.5 x + noise (sd 0.5 train, 0.3 test).

As in d2l and the course, the validation split *is* the test split: the per-epoch curves are
train vs test loss. The generated data are tiny, so they stay float32 tensors in memory.
"""

import math

import torch

from reglab.data.base import DataInfo, InMemoryDataModule, Splits
from reglab.data.config import (
    LinearRegressionConfig,
    PolyConfig,
    SyntheticConfig,
    Toy1DConfig,
)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def poly_data(cfg: PolyConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features of all max_degree columns, labels, true weights), train rows first."""
    g = _generator(cfg.data_seed)
    n = cfg.n_train + cfg.n_test
    x = torch.randn(n, 1, generator=g, dtype=torch.float64)
    powers = torch.arange(cfg.max_degree, dtype=torch.float64)
    factorials = torch.tensor(
        [math.gamma(i + 1) for i in range(cfg.max_degree)], dtype=torch.float64
    )
    features = x.pow(powers) / factorials
    true_w = torch.zeros(cfg.max_degree, dtype=torch.float64)
    true_w[: len(cfg.true_weights)] = torch.tensor(cfg.true_weights, dtype=torch.float64)
    labels = features @ true_w + cfg.noise * torch.randn(n, generator=g, dtype=torch.float64)
    return features.float(), labels.float().unsqueeze(1), true_w.float()


def linear_data(cfg: LinearRegressionConfig) -> tuple[torch.Tensor, torch.Tensor]:
    g = _generator(cfg.data_seed)
    n = cfg.n_train + cfg.n_test
    x = torch.randn(n, cfg.num_inputs, generator=g)
    y = x.sum(1, keepdim=True) * cfg.true_weight + cfg.true_bias
    return x, y + cfg.noise * torch.randn(n, 1, generator=g)


def toy1d_data(cfg: Toy1DConfig) -> Splits:
    g = _generator(cfg.data_seed)
    x = torch.linspace(*cfg.x_range, cfg.n_points).unsqueeze(1)
    y_train = cfg.slope * x + cfg.train_noise * torch.randn(x.shape, generator=g)
    y_test = cfg.slope * x + cfg.test_noise * torch.randn(x.shape, generator=g)
    return Splits(x, y_train, x.clone(), y_test, x.clone(), y_test)


def _train_test(x: torch.Tensor, y: torch.Tensor, n_train: int) -> Splits:
    x_test, y_test = x[n_train:], y[n_train:]
    return Splits(x[:n_train], y[:n_train], x_test, y_test, x_test, y_test)


class SyntheticDataModule(InMemoryDataModule):
    """Base of the generated data sets: validation = test, batch = training set by default."""

    def __init__(self, cfg: SyntheticConfig, seed: int, info: DataInfo, n_train: int):
        super().__init__(
            cfg.batch_size or n_train,
            cfg.eval_batch_size,
            seed,
            batches_per_step=cfg.batches_per_step,
        )
        self.cfg = cfg
        self.info = info


class PolyDataModule(SyntheticDataModule):
    def __init__(self, cfg: PolyConfig, seed: int):
        info = DataInfo(
            in_shape=(cfg.features,), num_outputs=1, task="regression", val_is_test=True
        )
        super().__init__(cfg, seed, info, cfg.n_train)
        self.true_weights = poly_data(cfg)[2][: cfg.features].tolist()

    def load_splits(self) -> Splits:
        features, labels, _ = poly_data(self.cfg)
        return _train_test(features[:, : self.cfg.features], labels, self.cfg.n_train)


class LinearRegressionDataModule(SyntheticDataModule):
    def __init__(self, cfg: LinearRegressionConfig, seed: int):
        info = DataInfo(
            in_shape=(cfg.num_inputs,), num_outputs=1, task="regression", val_is_test=True
        )
        super().__init__(cfg, seed, info, cfg.n_train)
        self.true_weights = [cfg.true_weight] * cfg.num_inputs
        self.true_bias = cfg.true_bias

    def load_splits(self) -> Splits:
        return _train_test(*linear_data(self.cfg), self.cfg.n_train)


class Toy1DDataModule(SyntheticDataModule):
    def __init__(self, cfg: Toy1DConfig, seed: int):
        info = DataInfo(in_shape=(1,), num_outputs=1, task="regression", val_is_test=True)
        super().__init__(cfg, seed, info, cfg.n_points)

    def load_splits(self) -> Splits:
        return toy1d_data(self.cfg)
