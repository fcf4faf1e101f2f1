"""Loggers side by side (issue 13): `logger=[wandb,tensorboard,mlflow]`, tags and
hyperparameters in each, task_name as W&B job type, checkpoints as W&B artifacts, provenance.

One run (two epochs) feeds every test here: each reads back what one logger stored, with that
logger's own reader (MlflowClient, TensorBoard's EventAccumulator, `wandb leet inspect`)."""

import json
import re
import shlex
import sys

import pytest
import torch

from reglab.app.job import run
from reglab.config.compose import compose_config
from reglab.loggers.wandb_offline import read_offline_run

from .conftest import FAST

TAGS = ["baseline", "lr sweep"]


@pytest.fixture(scope="module")
def all_loggers(tmp_path_factory, fmnist_root):
    tmp = tmp_path_factory.mktemp("loggers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATA_DIR", str(fmnist_root))
        mp.setenv("REGLAB_CACHE_DIR", str(tmp / "cache"))
        mp.setenv("REGLAB_LOG_DIR", str(tmp / "logs"))
        mp.setenv("WANDB_MODE", "offline")
        mp.setenv("WANDB_SILENT", "true")
        mp.setenv("WANDB_DATA_DIR", str(tmp / "wandb-data"))  # artifact staging copies
        mp.delenv("WANDB_API_KEY", raising=False)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        cfg = compose_config(
            [
                *FAST,
                "trainer.max_epochs=2",
                "regularizer=dropout",
                "logger=[wandb,tensorboard,mlflow]",
                "logger.wandb.log_model=true",
                f"tags=[{TAGS[0]},'{TAGS[1]}']",
            ],
            tmp / "run",
        )
        record = run(cfg)
    return {"record": record, "out": tmp / "run", "logs": tmp / "logs"}


def test_metrics_json_has_tags_and_provenance(all_loggers):
    record = json.loads((all_loggers["out"] / "metrics.json").read_text())
    assert record["status"] == "completed"
    assert record["tags"] == TAGS
    origin = record["provenance"]
    assert re.fullmatch(r"[0-9a-f]{40}", origin["git"]["commit"])  # the tests run in a checkout
    assert isinstance(origin["git"]["dirty"], bool)
    assert origin["command"] == shlex.join(sys.orig_argv)  # this process's command line
    import hydra
    import lightning

    assert origin["versions"]["torch"] == torch.__version__
    assert origin["versions"]["lightning"] == lightning.__version__
    assert origin["versions"]["hydra-core"] == hydra.__version__


def test_config_tree_is_saved_in_the_run_folder(all_loggers):
    text = (all_loggers["out"] / "config_tree.log").read_text()
    assert text.startswith("CONFIG")
    for section in ("dataset", "model", "regularizer", "optimizer", "trainer", "logger", "tags"):
        assert f"── {section}" in text, section
    assert "- 0.2" in text and "- 0.5" in text  # resolved values: the dropout rates
    assert "\x1b[" not in text  # plain text, no terminal colours


def test_wandb_gets_tags_job_type_config_and_checkpoint_artifacts(all_loggers):
    out, record = all_loggers["out"], all_loggers["record"]
    [run_dir] = sorted(out.glob("wandb/offline-run-*"))
    wb = read_offline_run(run_dir)
    assert wb.job_type == "train"  # task_name
    assert wb.tags == TAGS
    assert wb.config["tags"] == TAGS
    assert wb.config["provenance"] == record["provenance"]
    assert wb.config["optimizer"]["lr"] == 0.1
    # log_model=true: best.ckpt (alias best) and last.ckpt (alias last), once, after training
    by_file = {a["metadata"]["file"]: a for a in wb.artifacts}
    assert sorted(by_file) == ["best.ckpt", "last.ckpt"] and len(wb.artifacts) == 2
    assert "best" in by_file["best.ckpt"]["aliases"]
    assert (
        "last" in by_file["last.ckpt"]["aliases"] and "best" not in by_file["last.ckpt"]["aliases"]
    )
    for name, artifact in by_file.items():
        assert artifact["type"] == "model" and artifact["name"] == f"model-{wb.run_id}"
        [file] = artifact["files"]
        assert file["path"] == name and file["size"] == (out / "checkpoints" / name).stat().st_size
    best = by_file["best.ckpt"]["metadata"]
    assert best["monitor"] == "val/acc" and best["score"] == pytest.approx(record["val/acc_best"])


def test_mlflow_run_has_params_per_epoch_metrics_and_final_metrics(all_loggers):
    from mlflow import MlflowClient

    store = all_loggers["logs"] / "mlflow" / "mlflow.db"
    assert store.is_file()  # the default local store, under the log folder
    client = MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("reglab")
    [mlrun] = client.search_runs([experiment.experiment_id])
    record = all_loggers["record"]
    assert mlrun.info.run_name == "mlp-dropout-fashion_mnist"
    params = mlrun.data.params
    assert params["optimizer/lr"] == "0.1"
    assert params["choices/regularizer"] == "dropout"
    assert params["regularizer/dropout"] == "[0.2, 0.5]"
    assert params["provenance/git/commit"] == record["provenance"]["git"]["commit"]
    assert mlrun.data.tags["baseline"] == "true" and mlrun.data.tags["tags"] == "baseline, lr sweep"
    val_acc = client.get_metric_history(mlrun.info.run_id, "val/acc")
    rows = (all_loggers["out"] / "metrics.csv").read_text().splitlines()
    assert len(val_acc) == 2 == len(rows) - 1  # one value per epoch
    assert val_acc[-1].value == pytest.approx(record["val/acc"])
    metrics = mlrun.data.metrics
    assert metrics["test/acc"] == pytest.approx(record["test/acc"])
    assert metrics["final/test/acc"] == pytest.approx(record["test/acc"])
    assert metrics["final/val/acc_best"] == pytest.approx(record["val/acc_best"])


def test_tensorboard_gets_hparams_with_the_final_metrics(all_loggers):
    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    tb = all_loggers["out"] / "tensorboard"
    hparams = yaml.safe_load((tb / "hparams.yaml").read_text())
    assert hparams["optimizer"]["lr"] == 0.1 and hparams["tags"] == TAGS
    events = EventAccumulator(str(tb)).Reload()
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["optimizer/lr"].number_value == 0.1
    assert events.Scalars("final/test/acc")[-1].value == pytest.approx(
        all_loggers["record"]["test/acc"]
    )


def test_log_model_all_uploads_every_checkpoint_write(make_config, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    run(make_config("trainer.max_epochs=2", "logger.wandb.log_model=all", "test=false"))
    [run_dir] = sorted((tmp_path / "run").glob("wandb/offline-run-*"))
    artifacts = read_offline_run(run_dir).artifacts
    last = [a for a in artifacts if "last" in a["aliases"]]
    assert [a["metadata"]["epoch"] for a in last] == [0, 1]  # one per epoch, as written
    assert {f"epoch-{a['metadata']['epoch']}" for a in last} <= {
        alias for a in last for alias in a["aliases"]
    }
    assert any("best" in a["aliases"] for a in artifacts)
