"""Composing and validating a config does not import torch or Lightning (start-up time:
scripts/bench_startup.py measures it), and the signatures read from source files agree with
the imported classes'."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reglab.config import CONFIG_DIR
from reglab.config.signatures import _imported_signature, _static_signature, signature_of

REPO = Path(__file__).resolve().parents[1]


def _class_targets() -> list[str]:
    """Every `_target_` in reglab's configs that names a class (not a function)."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            target = node.get("_target_")
            if isinstance(target, str) and target.rpartition(".")[2][:1].isupper():
                found.add(target)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in CONFIG_DIR.rglob("*.yaml"):
        walk(yaml.safe_load(path.read_text()))
    return sorted(found)


@pytest.mark.parametrize("target", [*_class_targets(), "torch.optim.Adam", "torch.optim.AdamW"])
def test_signature_from_source_equals_the_imported_one(target):
    module, _, name = target.rpartition(".")
    static = _static_signature(module, name, hops=4)
    if static is not None:  # None: the source does not say; signature_of imports instead
        assert static == _imported_signature(target)
    assert signature_of(target) == _imported_signature(target)


def test_the_configs_name_classes_found_in_source():
    """The trainer, optimizers and built-in models are read without importing torch."""
    for target in ("lightning.pytorch.Trainer", "torch.optim.SGD", "reglab.models.mlp.MLP"):
        module, _, name = target.rpartition(".")
        assert _static_signature(module, name, hops=4) is not None, target


CODE = """
import sys
from reglab.config.compose import compose_config
from reglab.app.settings import validate_config
from reglab.config.errors import ConfigError
cfg = compose_config({overrides!r}, {out!r})
try:
    validate_config(cfg)
    print("valid")
except ConfigError as exc:
    print("error:", str(exc).splitlines()[-1])
heavy = sorted(m for m in ("torch", "lightning", "torchvision", "wandb") if m in sys.modules)
print("imported:", heavy)
"""


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["regularizer=dropout", "optimizer=adam"], "valid"),
        (["regularizer.dropout=1.5"], "error:   - regularizer.dropout"),
        (["+trainer.max_epoch=3"], "error:   - trainer.max_epoch: not an argument of Trainer"),
        (["+optimizer.moment=0.9"], "error:   - optimizer.moment: not an argument of SGD"),
    ],
)
def test_validating_a_config_does_not_import_torch(tmp_path, overrides, expected):
    code = CODE.format(overrides=overrides, out=str(tmp_path / "run"))
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(expected), lines
    assert lines[-1] == "imported: []"
