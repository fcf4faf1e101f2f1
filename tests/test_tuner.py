"""Lightning's tuner on a reglab module: the learning-rate finder and the batch-size finder
(`Tuner(trainer).lr_find(module, datamodule=...)`, `.scale_batch_size(...)`), as the README
shows them."""

import lightning as L
import pytest
from lightning.pytorch.tuner import Tuner

from reglab.app.build import build_data, build_module
from reglab.app.settings import validate_config


class FirstBatch(L.Callback):
    """Records the size of the first training batch and the lr it is stepped with."""

    def __init__(self):
        self.size = self.lr = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.size is None:
            self.size = len(batch[1])
            self.lr = trainer.optimizers[0].param_groups[0]["lr"]


def test_lr_finder_and_batch_size_finder_tune_a_reglab_module(make_config, tmp_path):
    settings = validate_config(make_config("logger=csv", "dataset.batch_size=16"))
    data = build_data(settings)
    module = build_module(settings, data)
    assert module.lr == 0.1  # optimizer=sgd
    tuner = Tuner(L.Trainer(max_epochs=1, logger=False, default_root_dir=tmp_path))
    finder = tuner.lr_find(
        module, datamodule=data.datamodule, min_lr=1e-3, max_lr=1e-2, num_training=20
    )
    suggestion = finder.suggestion()
    assert 1e-3 <= suggestion <= 1e-2
    assert module.lr == suggestion  # update_attr: the module trains with it from now on
    # the hyperparameters checkpoints keep say so too
    assert module.hparams["config"]["optimizer"]["lr"] == suggestion
    size = tuner.scale_batch_size(
        module, datamodule=data.datamodule, mode="power", max_trials=3, steps_per_trial=1
    )
    assert size == data.datamodule.batch_size == 8  # 2, 4, 8

    first = FirstBatch()
    trainer = L.Trainer(
        max_epochs=1, logger=False, callbacks=[first], default_root_dir=tmp_path / "fit"
    )
    trainer.fit(module, datamodule=data.datamodule)
    assert first.size == 8 and first.lr == pytest.approx(suggestion)
    assert float(trainer.callback_metrics["train/lr"]) == pytest.approx(suggestion)


def test_the_readme_tuner_example_runs_and_writes_only_into_the_logs_folder(tmp_path, monkeypatch):
    import re

    from .conftest import REPO

    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    (code,) = [b for b in blocks if "Tuner(" in b]
    small = '["regularizer=dropout", "dataset.val_size=100", "dataset.batch_size=16"]'
    code = code.replace('["regularizer=dropout"]', small)
    assert small in code
    here = tmp_path / "checkout"
    here.mkdir()
    monkeypatch.chdir(here)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["module"].lr == namespace["finder"].suggestion() != 0.1
    assert namespace["data"].datamodule.batch_size > 16
    assert list(here.iterdir()) == []
