"""Bring your own model and data set: a package outside src/ named by `_target_` in a config
folder of its own (`--config-dir`), with nothing in reglab edited; checkpoints rebuilt
without Hydra; evaluation of a checkpoint."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from reglab.app.job import run
from reglab.config.compose import compose_config
from reglab.config.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]

USER_PACKAGE = '''
"""A user's own model and data sets, written against reglab's documented interface only."""
import math

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MyNet(nn.Module):
    """One hidden layer; dropout / noise / DropConnect come in through `hooks`."""

    def __init__(self, in_shape, num_outputs, width=16, hooks=None):
        super().__init__()
        inputs = math.prod(in_shape)
        self.flatten = nn.Flatten()
        self.hidden = hooks.linear(0, inputs, width) if hooks else nn.Linear(inputs, width)
        self.act = nn.ReLU()
        self.after = hooks.after_activation(0) if hooks else nn.Identity()
        self.out = nn.Linear(width, num_outputs)

    def forward(self, x):
        return self.out(self.after(self.act(self.hidden(self.flatten(x)))))


class SignNet(nn.Module):
    """Python control flow on a tensor's value: a forward torch.func.vmap cannot run."""

    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.linear = nn.Linear(math.prod(in_shape), num_outputs)

    def forward(self, x):
        out = self.linear(x.flatten(1))
        return out if out.sum().item() > -1e9 else -out


class PlainNet(nn.Module):
    """Takes no hooks: dropout cannot reach its hidden layer."""

    def __init__(self, in_shape, num_outputs):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(in_shape), num_outputs))

    def forward(self, x):
        return self.net(x)


def _blobs(n, features, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, features, generator=g) + 3.0 * y.unsqueeze(1).float()
    return x, y


class Blobs:
    """Tensors: reglab serves them with its in-memory loader."""

    num_classes = 2

    def __init__(self, n=128, features=4, seed=0):
        self.n, self.features, self.seed = n, features, seed

    def load(self):
        x, y = _blobs(self.n, self.features, self.seed)
        xt, yt = _blobs(64, self.features, self.seed + 1)
        half = self.n // 2
        return dict(x_train=x[:half], y_train=y[:half], x_val=x[half:], y_val=y[half:],
                    x_test=xt, y_test=yt)


class BlobIds(Blobs):
    """Class ids with a trailing dimension (N, 1): a common slip."""

    def load(self):
        return {k: v.unsqueeze(1) if k.startswith("y") else v for k, v in super().load().items()}


class BrokenNet(nn.Module):
    def __init__(self, in_shape, num_outputs):
        super().__init__()
        raise KeyError("group")


class BlobsDataModule(L.LightningDataModule):
    """A plain LightningDataModule with DataLoaders of its own."""

    def __init__(self, n=256, features=4, batch_size=32):
        super().__init__()
        self.n, self.features, self.batch_size = n, features, batch_size

    def setup(self, stage=None):
        x, y = _blobs(self.n, self.features, 0)
        self.train, self.val = TensorDataset(x[:192], y[:192]), TensorDataset(x[192:], y[192:])
        self.test = TensorDataset(*_blobs(64, self.features, 1))

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=64)

    def test_dataloader(self):
        return DataLoader(self.test, batch_size=64)
'''

CONFIGS = {
    "model/my_net.yaml": "_target_: my_pkg.MyNet\nwidth: 8\n",
    "model/plain_net.yaml": "_target_: my_pkg.PlainNet\n",
    "model/sign_net.yaml": "_target_: my_pkg.SignNet\n",
    "dataset/blobs.yaml": "_target_: my_pkg.Blobs\nn: 128\nbatch_size: 16\n",
    "dataset/blobs_dm.yaml": "_target_: my_pkg.BlobsDataModule\nbatch_size: 32\n",
    "dataset/blob_ids.yaml": "_target_: my_pkg.BlobIds\n",
    "model/broken_net.yaml": "_target_: my_pkg.BrokenNet\n",
}
FAST = ["trainer.max_epochs=5", "logger=csv", "extras.print_config=false"]


@pytest.fixture(scope="module")
def user_project(tmp_path_factory) -> Path:
    """A user's project: my_pkg/ (importable) and my_configs/, outside reglab's src/."""
    root = tmp_path_factory.mktemp("project")
    (root / "my_pkg").mkdir()
    (root / "my_pkg" / "__init__.py").write_text(textwrap.dedent(USER_PACKAGE))
    for name, text in CONFIGS.items():
        path = root / "my_configs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


def _compose(project: Path, overrides: list[str], out: Path):
    search = f"hydra.searchpath=[file://{project / 'my_configs'}]"
    return compose_config([search, *FAST, *overrides], out)


def test_the_pinned_command_line_runs_a_user_model_and_data_set(user_project, tmp_path):
    """`python train.py --config-dir my_configs model=my_net regularizer=[weight_decay,l2]`,
    with my_pkg importable; a data set option the same way."""
    out = tmp_path / "run"
    # run from the project's folder, as the README says: my_pkg is importable from there
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"WANDB_MODE": "offline"}
    args = [sys.executable, str(REPO / "train.py"), "--config-dir", "my_configs"]
    args += ["model=my_net", "dataset=blobs", "regularizer=[weight_decay,l2]", *FAST]
    args += [f"hydra.run.dir={out}"]
    done = subprocess.run(args, cwd=user_project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert record["choices"]["model"] == "my_net" and record["choices"]["dataset"] == "blobs"
    assert record["choices"]["regularizer"] == "weight_decay+l2"
    assert record["test/acc"] > 0.8  # two well-separated blobs


def test_dropout_reaches_a_user_model_through_its_hooks(user_project, tmp_path):
    overrides = ["model=my_net", "dataset=blobs", "regularizer.dropout=0.5"]
    cfg = _compose(user_project, overrides, tmp_path)
    record = run(cfg)
    assert record["status"] == "completed"
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["hyper_parameters"]["config"]["regularizer"]["dropout"] == 0.5
    from reglab.lit import RegLabModule
    from reglab.regularizers.dropout import Dropout

    module = RegLabModule.load_from_checkpoint(tmp_path / "checkpoints" / "last.ckpt")
    assert isinstance(module.net.after, Dropout) and module.net.after.p == 0.5


def test_a_user_model_without_hooks_cannot_take_dropout(user_project, tmp_path):
    cfg = _compose(
        user_project, ["model=plain_net", "dataset=blobs", "regularizer=dropout"], tmp_path
    )
    with pytest.raises(
        ConfigError, match=r"regularizer.dropout needs the hidden-layer hook.*hooks"
    ):
        run(cfg)


def test_a_user_model_with_a_mistyped_keyword_names_it(user_project, tmp_path):
    cfg = _compose(user_project, ["model=my_net", "dataset=blobs", "+model.widht=4"], tmp_path)
    with pytest.raises(
        ConfigError, match=r"model.widht: not an argument of MyNet; did you mean model.width"
    ):
        run(cfg)


def test_a_user_lightning_datamodule_runs(user_project, tmp_path):
    cfg = _compose(user_project, ["model=my_net", "dataset=blobs_dm"], tmp_path)
    record = run(cfg)
    assert record["status"] == "completed" and record["test/acc"] > 0.8
    assert record["choices"]["dataset"] == "blobs_dm"


def test_a_checkpoint_loads_in_plain_python_without_hydra(user_project, tmp_path):
    run(_compose(user_project, ["model=mlp", "model.hidden=[8]", "dataset=blobs"], tmp_path))
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    code = textwrap.dedent(f"""
        import sys, torch
        from reglab.lit import RegLabModule
        module = RegLabModule.load_from_checkpoint({str(ckpt)!r})
        module.eval()
        print(module(torch.zeros(3, 4)).shape, module.hparams.config["model"]["hidden"])
        assert "hydra.core.global_hydra" not in sys.modules or not sys.modules[
            "hydra.core.global_hydra"].GlobalHydra.instance().is_initialized()
    """)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{user_project}"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "torch.Size([3, 2]) [8]"


def test_class_ids_with_a_trailing_dimension_are_one_line(user_project, tmp_path):
    from reglab.data.errors import DatasetError

    cfg = _compose(user_project, ["model=my_net", "dataset=blob_ids"], tmp_path)
    with pytest.raises(
        DatasetError, match=r"class ids of shape \(N,\), got \(64, 1\); e.g. y.squeeze"
    ):
        run(cfg)


def test_a_crash_in_a_users_constructor_still_leaves_metrics_json(user_project, tmp_path):
    from tests.conftest import run_main

    out = tmp_path / "run"
    args = ["--config-dir", str(user_project / "my_configs"), "model=broken_net", "dataset=blobs"]
    done = run_main([*args, *FAST, f"hydra.run.dir={out}"])
    assert done.returncode == 1 and "KeyError: 'group'" in done.stderr
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "failed" and record["error"] == "KeyError: 'group'"


def test_seeds_with_a_user_lightning_datamodule_train_one_after_another(user_project, tmp_path):
    """Stacked replicas need reglab's in-memory data: with a LightningDataModule of the
    user's, seeds=2 trains the single runs seed=42 and seed=43 one after another."""
    overrides = ["model=mlp", "model.hidden=[8]", "dataset=blobs_dm", "trainer.max_epochs=2"]
    record = run(_compose(user_project, [*overrides, "seeds=2"], tmp_path / "run"))
    assert record["replica_status"] == ["completed", "completed"]
    for seed in (42, 43):
        expected = run(_compose(user_project, [*overrides, f"seed={seed}"], tmp_path / str(seed)))
        folder = tmp_path / "run" / f"seed_{seed}"
        mine = json.loads((folder / "metrics.json").read_text())
        assert {k: mine[k] for k in expected if "/" in k} == {
            k: v for k, v in expected.items() if "/" in k
        }
        weights = torch.load(folder / "checkpoints" / "last.ckpt", weights_only=True)
        theirs = torch.load(tmp_path / str(seed) / "checkpoints" / "last.ckpt", weights_only=True)
        state, other = weights["state_dict"], theirs["state_dict"]
        assert all(torch.equal(state[k], other[k]) for k in other if k.startswith("net."))


def test_seeds_of_a_model_vmap_cannot_run_train_one_after_another(user_project, tmp_path):
    """Found once the model is built (its forward under vmap fails): the seeds train in turn,
    each its single run."""
    overrides = ["model=sign_net", "dataset=blobs", "trainer.max_epochs=2"]
    record = run(_compose(user_project, [*overrides, "seeds=2"], tmp_path / "run"))
    assert record["replica_status"] == ["completed", "completed"]
    for seed in (42, 43):
        expected = run(_compose(user_project, [*overrides, f"seed={seed}"], tmp_path / str(seed)))
        mine = json.loads((tmp_path / "run" / f"seed_{seed}" / "metrics.json").read_text())
        assert {k: mine[k] for k in expected if "/" in k} == {
            k: v for k, v in expected.items() if "/" in k
        }
