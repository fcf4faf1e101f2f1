"""Bad inputs on disk for tests/test_bad_inputs.py and scripts/bad_inputs_table.py."""

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np

from reglab.data.fashion_mnist import FILES, SUBDIR
from reglab.data.idx import write_idx
from tests.conftest import write_fashion_mnist, write_image_folder


def _image_folder(root: Path, counts: dict[str, int]) -> Path:
    """Class folders with the given number of images each (0: an empty folder)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 255, size=(16, 16, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.jpg")
    return root


BAD_MODELS = """
import math

from torch import nn


class FiveOutputs(nn.Module):
    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.out = nn.Linear(math.prod(in_shape), 5)

    def forward(self, x):
        return self.out(x.flatten(1))


class OneTooMany(nn.Module):
    \"\"\"num_outputs + 1 logits: the extra class is never a target, nothing else shows it.\"\"\"

    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.out = nn.Linear(math.prod(in_shape), num_outputs + 1)

    def forward(self, x):
        return self.out(x.flatten(1))


class NoParameters(nn.Module):
    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.num_outputs = num_outputs

    def forward(self, x):
        return x.flatten(1)[:, : self.num_outputs]


class TupleOutput(nn.Module):
    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.hidden = nn.Linear(math.prod(in_shape), 8)
        self.out = nn.Linear(8, num_outputs)

    def forward(self, x):
        features = self.hidden(x.flatten(1))
        return self.out(features), features


class FlatRegression(nn.Module):
    \"\"\"(N,) outputs against (N, 1) targets: MSE would broadcast to an (N, N) loss.\"\"\"

    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.out = nn.Linear(math.prod(in_shape), num_outputs)

    def forward(self, x):
        return self.out(x.flatten(1)).squeeze(1)


class Detached(nn.Module):
    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.out = nn.Linear(math.prod(in_shape), num_outputs)

    def forward(self, x):
        return self.out(x.flatten(1)).detach()


class FixedInputs(nn.Module):
    \"\"\"Ignores in_shape: 100 inputs, whatever the data set.\"\"\"

    def __init__(self, num_outputs):
        super().__init__()
        self.out = nn.Linear(100, num_outputs)

    def forward(self, x):
        return self.out(x.flatten(1))
"""
MODEL_OPTIONS = {
    "five_outputs": "FiveOutputs",
    "one_too_many": "OneTooMany",
    "no_parameters": "NoParameters",
    "tuple_output": "TupleOutput",
    "flat_regression": "FlatRegression",
    "detached": "Detached",
    "fixed_inputs": "FixedInputs",
}


def write_bad_models(d: Path) -> Path:
    """d/bad_pkg (models that cannot train as they are) and d/configs/model/<option>.yaml
    naming them; returns d (add it to sys.path / PYTHONPATH, d/configs to the search path)."""
    (d / "bad_pkg").mkdir(parents=True, exist_ok=True)
    (d / "bad_pkg" / "__init__.py").write_text(textwrap.dedent(BAD_MODELS))
    (d / "configs" / "model").mkdir(parents=True, exist_ok=True)
    for option, name in MODEL_OPTIONS.items():
        (d / "configs" / "model" / f"{option}.yaml").write_text(f"_target_: bad_pkg.{name}\n")
    return d


def make_bad_data(d: Path) -> dict[str, Path]:
    """Every bad data set the cases use, under d; returns their paths by name."""
    good = write_fashion_mnist(d / "good")
    write_image_folder(good / "RMB_data")
    raw = SUBDIR
    truncated = d / "truncated"
    shutil.copytree(good, truncated)
    images = truncated / raw / f"{FILES['train_images']}.gz"
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    label12 = d / "label12"
    shutil.copytree(good, label12)
    labels = np.zeros(600, dtype=np.uint8)
    labels[5] = 12
    write_idx(label12 / raw / f"{FILES['train_labels']}.gz", labels)
    (d / "a_file").write_text("not a folder")
    _image_folder(d / "one_empty", {"1": 10, "100": 0})
    _image_folder(d / "both_empty", {"1": 0, "100": 0})
    _image_folder(d / "too_few", {"1": 10, "100": 2})
    corrupt = _image_folder(d / "corrupt_image", {"1": 10, "100": 10})
    (corrupt / "100" / "broken.jpg").write_bytes(b"not a jpeg")
    completed = d / "completed"
    (completed / ".hydra").mkdir(parents=True)
    (completed / ".hydra" / "overrides.yaml").write_text("[]\n")
    (completed / "checkpoints").mkdir()
    (completed / "checkpoints" / "last.ckpt").write_bytes(b"")
    (completed / "metrics.json").write_text(json.dumps({"status": "completed"}))
    write_bad_models(d / "bad_models")
    return {p.name: p for p in d.iterdir()}
