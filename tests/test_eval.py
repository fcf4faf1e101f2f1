"""`python eval.py ckpt_path=...`: a checkpoint evaluated in a run folder of its own."""

import json
from pathlib import Path

import pytest

from reglab.app.evaluate import evaluate, validate_eval_config
from reglab.app.job import run
from reglab.config.compose import compose_config
from reglab.config.errors import ConfigError
from tests.conftest import FAST, run_main, snapshot


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fmnist_root) -> tuple[Path, dict]:
    """A Fashion-MNIST MLP that tested its last weights (test_ckpt=last)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    (out / ".hydra").mkdir(parents=True)
    overrides = [*FAST, "trainer.max_epochs=2", "test_ckpt=last", "logger=csv"]
    with pytest.MonkeyPatch.context() as env:  # as _isolated_env, for the whole module
        env.setenv("DATA_DIR", str(fmnist_root))
        env.setenv("REGLAB_CACHE_DIR", str(out.parent / "cache"))
        record = run(compose_config([*overrides, "model.hidden=[32]"], out))
    assert record["status"] == "completed"
    return out, record


def test_eval_of_last_ckpt_equals_the_training_runs_test_numbers(trained, tmp_path):
    run_dir, record = trained
    before = snapshot(run_dir)
    out = tmp_path / "eval"
    cfg = compose_config([f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}"], out, "eval")
    result = evaluate(validate_eval_config(cfg))
    assert result["test/acc"] == pytest.approx(record["test/acc"], abs=1e-6)
    assert result["test/loss"] == pytest.approx(record["test/loss"], rel=1e-5)
    written = json.loads((out / "metrics.json").read_text())
    assert written["test/acc"] == result["test/acc"] and written["split"] == "test"
    # per-class accuracy: the metrics and the table
    classes = [k for k in written if k.startswith("test/class_acc/")]
    assert len(classes) == 10
    assert (out / "per_class_accuracy.csv").is_file()
    assert snapshot(run_dir) == before  # nothing written in the training run's folder


def test_eval_on_the_validation_split(trained, tmp_path):
    run_dir, record = trained
    cfg = compose_config(
        [f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", "split=val"], tmp_path, "eval"
    )
    result = evaluate(validate_eval_config(cfg))
    assert result["val/acc"] == pytest.approx(record["val/acc"], abs=1e-6)
    assert not any(k.startswith("test/") for k in result)


def test_the_eval_command_line_writes_under_logs_eval(trained, tmp_path):
    run_dir, _ = trained
    done = run_main([f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}"], entry="eval")
    assert done.returncode == 0, done.stderr[-2000:]
    (metrics,) = (tmp_path / "logs" / "eval" / "runs").glob("*/metrics.json")
    assert json.loads(metrics.read_text())["status"] == "completed"


def test_predict_prepares_uint8_images_as_training_did(trained, fmnist_root):
    """RegLabModule.load_from_checkpoint + predict, in plain Python: the official test images
    as stored (uint8) give the run's test accuracy (normalisation comes from the checkpoint)."""
    import torch

    from reglab.data.fashion_mnist import SUBDIR
    from reglab.data.idx import read_idx
    from reglab.lit import RegLabModule

    run_dir, record = trained
    module = RegLabModule.load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt")
    images = torch.from_numpy(read_idx(fmnist_root / SUBDIR / "t10k-images-idx3-ubyte.gz").copy())
    labels = torch.from_numpy(read_idx(fmnist_root / SUBDIR / "t10k-labels-idx1-ubyte.gz").copy())
    predicted = module.predict(images.unsqueeze(1)).argmax(1)
    accuracy = (predicted == labels.long()).float().mean().item()
    assert accuracy == pytest.approx(record["test/acc"], abs=1e-6)
    assert module.info.mean == pytest.approx((0.2860,)) and module.training


@pytest.mark.parametrize("content", [b"", b"hello", b"{}"])
def test_eval_of_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, content):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(content)
    cfg = compose_config([f"ckpt_path={bad}"], tmp_path / "eval", "eval")
    with pytest.raises(ConfigError, match=r"bad\.ckpt: refused: not a checkpoint of a reglab run"):
        evaluate(validate_eval_config(cfg))


def test_eval_without_a_checkpoint_says_it_is_required(tmp_path):
    with pytest.raises(ConfigError, match="ckpt_path is required"):
        validate_eval_config(compose_config([], tmp_path / "eval", "eval"))


def test_eval_of_a_missing_checkpoint_is_one_line(tmp_path):
    cfg = compose_config([f"ckpt_path={tmp_path / 'nope.ckpt'}"], tmp_path / "eval", "eval")
    with pytest.raises(ConfigError, match=r"ckpt_path=.*nope.ckpt: no such file"):
        evaluate(validate_eval_config(cfg))


def test_eval_logs_its_own_runs_linked_to_the_training_run(trained, tmp_path):
    """logger=[wandb,tensorboard]: the evaluation's own W&B run (offline) and TensorBoard
    events, in its own folder, named and grouped after the training run and tagged `eval`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from reglab.loggers.wandb_offline import read_offline_run

    run_dir, record = trained
    before = snapshot(run_dir)
    out = tmp_path / "eval"
    cfg = compose_config(
        [
            f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}",
            "logger=[wandb,tensorboard]",
            "tags=[paper]",
        ],
        out,
        "eval",
    )
    result = evaluate(validate_eval_config(cfg))
    (wandb_dir,) = out.glob("wandb/offline-run-*")
    logged = read_offline_run(wandb_dir)
    assert logged.name == "mlp-none-fashion_mnist-eval"  # the training run's name + -eval
    assert logged.group == run_dir.name and logged.job_type == "eval"
    assert logged.tags == ["paper", "eval"]
    assert logged.config["trained_run"]["folder"] == str(run_dir)
    assert logged.summary["test/acc"] == pytest.approx(result["test/acc"])
    assert logged.summary["test/acc"] == pytest.approx(record["test/acc"], abs=1e-6)
    events = EventAccumulator(str(out / "tensorboard")).Reload()
    assert events.Scalars("test/acc")[-1].value == pytest.approx(result["test/acc"])
    assert events.Scalars("final/test/loss")[-1].value == pytest.approx(result["test/loss"])
    assert snapshot(run_dir) == before  # nothing written in the training run's folder

    csv_only = tmp_path / "csv"
    cfg = compose_config(
        [f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", "logger=csv"], csv_only, "eval"
    )
    evaluate(validate_eval_config(cfg))
    assert sorted(p.name for p in csv_only.iterdir() if p.is_dir()) == []  # no logger runs
