"""Shared fixtures: small data sets in real file formats; configs composed as the CLI does."""

import os
from pathlib import Path

import numpy as np
import pytest

from reglab.config import register_resolvers
from reglab.config.compose import compose_config
from reglab.data.fashion_mnist import FILES, SUBDIR
from reglab.data.idx import write_idx

REPO = Path(__file__).resolve().parents[1]
register_resolvers()


def make_patterned_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images whose class is a bright horizontal band (learnable in one epoch)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        top = 2 + 2 * int(label)
        images[i, top : top + 3, 4:24] = 230
    return images, labels


def write_fashion_mnist(root: Path, n_train: int = 600, n_test: int = 200) -> Path:
    """Writes the four official file names, gzip IDX, under root/FashionMNIST/raw."""
    raw = root / SUBDIR
    raw.mkdir(parents=True, exist_ok=True)
    x_train, y_train = make_patterned_images(n_train, seed=1)
    x_test, y_test = make_patterned_images(n_test, seed=2)
    arrays = {
        "train_images": x_train,
        "train_labels": y_train,
        "test_images": x_test,
        "test_labels": y_test,
    }
    for key, stem in FILES.items():
        write_idx(raw / f"{stem}.gz", arrays[key])
    return root


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("data"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path, fmnist_root):
    """No network, no W&B server, nothing written outside tmp dirs."""
    monkeypatch.setenv("DATA_DIR", str(fmnist_root))
    monkeypatch.setenv("REGLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REGLAB_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)


# Settings that keep a run small: the data set above is 600 images, so a batch of 64 gives
# 9 training steps per epoch.
FAST = ["dataset.val_size=100", "dataset.batch_size=64", "trainer.max_epochs=1"]


@pytest.fixture
def make_config(tmp_path):
    def _make(*overrides: str, fast: bool = True):
        return compose_config([*(FAST if fast else []), *overrides], tmp_path / "run")

    return _make


def run_cli(args: list[str], env: dict | None = None, timeout: int = 300, cwd: Path = REPO):
    """Runs `python train.py ...` in a subprocess, as a user would."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
