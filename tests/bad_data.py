"""Bad inputs on disk for tests/test_bad_inputs.py and scripts/bad_inputs_table.py."""

import json
import shutil
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
    return {p.name: p for p in d.iterdir()}
