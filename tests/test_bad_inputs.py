"""Every bad input gives one message that names the key or file, a non-zero exit, no
traceback, and (where it applies) no run folder. One table; most cases run in-process
(`handle_run` on a composed config, as `python train.py` does), a few through Hydra's main with
a command line (`run_main`: Hydra's own errors and output folders, without a process launch;
test_config.py::test_cli_reports_bad_value_without_traceback launches the real `train.py`)."""

import logging

import pytest
import torch

from reglab.app.job import handle_run
from reglab.config.compose import compose_config

from .bad_data import make_bad_data
from .conftest import FAST, finished_run, run_main


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return make_bad_data(tmp_path_factory.mktemp("bad"))


RMB = ["dataset=rmb", "model=lenet", "dataset.batch_size=8", "trainer.max_epochs=1"]

# (case, overrides, data folder (a key of make_bad_data) or None, text the message must hold)
IN_PROCESS = [
    ("unknown trainer key", ["+trainer.max_epoch=1"], None, "trainer.max_epochs?"),
    (
        "early-stopping monitor",
        ["regularizer=early_stopping", "regularizer.early_stopping.monitor=val/accuracy"],
        None,
        "regularizer.early_stopping.monitor=val/accuracy: not a metric this run logs; did you "
        "mean val/acc?",
    ),
    ("checkpoint monitor", ["+callbacks.model_checkpoint.monitor=val/f1"], None, "val/f1"),
    (
        "checkpoint mode",
        ["+callbacks.model_checkpoint.mode=foo"],
        None,
        "callbacks.model_checkpoint: mode=foo: use min or max",
    ),
    (
        "checkpoint mode, seeds=2",
        ["+callbacks.model_checkpoint.mode=foo", "seeds=2"],
        None,
        "callbacks.model_checkpoint: mode=foo: use min or max",
    ),
    ("optimized_metric", ["optimized_metric=val/nope"], None, "optimized_metric=val/nope"),
    ("test_ckpt=best, no validation", ["dataset.val_size=0", "test_ckpt=best"], None, "val_size"),
    ("truncated .gz", [], "truncated", "train-images-idx3-ubyte.gz"),
    ("label 12", [], "label12", "train-labels-idx1-ubyte.gz: 1 label(s) outside"),
    ("one class folder empty", [*RMB, "dataset.root={one_empty}"], None, "one_empty/100"),
    ("both class folders empty", [*RMB, "dataset.root={both_empty}"], None, "both_empty/1,"),
    ("a split without a class", [*RMB, "dataset.root={too_few}"], None, "too_few/100"),
    ("corrupt image", [*RMB, "dataset.root={corrupt_image}"], None, "broken.jpg"),
    ("image folder missing", [*RMB, "dataset.root={nowhere}"], None, "nowhere"),
    ("data missing", ["dataset.download=false"], "nowhere", "nowhere/FashionMNIST/raw"),
    # these worked before; they stay in the table
    ("value out of range", ["regularizer.dropout=1.5"], None, "regularizer.dropout"),
    ("unknown key", ["+model.depth=3"], None, "model.depth: unknown key"),
    ("resume without a run", ["resume=true"], None, "resume=true: no run"),
    ("ckpt_path missing", ["ckpt_path=/nonexistent.ckpt"], None, "/nonexistent.ckpt"),
    (
        "mlflow unknown scheme",
        ["logger=mlflow", "logger.mlflow.tracking_uri=notascheme://foo"],
        None,
        "logger.mlflow.tracking_uri=notascheme://foo: unknown scheme",
    ),
    (
        "mlflow store that cannot be made",
        ["logger=mlflow", "logger.mlflow.tracking_uri=sqlite:////proc/x/m.db"],
        None,
        "logger.mlflow.tracking_uri=sqlite:////proc/x/m.db: cannot create /proc/x",
    ),
    (
        "mlflow file store",
        ["logger=mlflow", "logger.mlflow.tracking_uri=file:///{nowhere}"],
        None,
        "logger.mlflow.tracking_uri=file:",
    ),
]
if not torch.cuda.is_available():
    IN_PROCESS.append(("hardware=gpu, no GPU", ["hardware=gpu"], None, "no GPU found"))

# A user's model that cannot train as it is (tests/bad_data.py's bad_pkg): one check after the
# model is built, a batch of zeros through it, before anything trains.
USER = "hydra.searchpath=[file://{bad_models}/configs]"
IN_PROCESS += [
    (
        "5 outputs for 10 classes",
        [USER, "model=five_outputs"],
        None,
        "model._target_=bad_pkg.FiveOutputs gives 5 outputs for a batch of 2; this data set "
        "needs 10 outputs for 10 classes (shape (2, 10)). Fix: its forward must return one "
        "tensor of shape (N, 10) (take `num_outputs` in the constructor: reglab passes 10)",
    ),
    (
        "11 outputs for 10 classes (trained without a word before)",
        [USER, "model=one_too_many"],
        None,
        "model._target_=bad_pkg.OneTooMany gives 11 outputs for a batch of 2; this data set "
        "needs 10 outputs",
    ),
    (
        "no parameters",
        [USER, "model=no_parameters"],
        None,
        "model._target_=bad_pkg.NoParameters has no trainable parameters: nothing to train",
    ),
    (
        "forward returns a tuple",
        [USER, "model=tuple_output"],
        None,
        "model._target_=bad_pkg.TupleOutput: its forward returns a tuple, not a tensor",
    ),
    (
        "regression outputs (N,) for targets (N, 1)",
        [USER, "model=flat_regression", "dataset=toy1d"],
        None,
        "model._target_=bad_pkg.FlatRegression gives shape (2,) for a batch of 2; this data "
        "set needs 1 output(s), one per regression target (shape (2, 1))",
    ),
    (
        "outputs detached from the parameters",
        [USER, "model=detached"],
        None,
        "model._target_=bad_pkg.Detached: its outputs do not depend on its trainable parameters",
    ),
    (
        "model ignores in_shape",
        [USER, "model=fixed_inputs"],
        None,
        "model._target_=bad_pkg.FixedInputs: its forward fails on a batch of inputs of shape "
        "(2, 1, 28, 28) (the data set's in_shape (1, 28, 28)) at {bad_models}/bad_pkg/"
        "__init__.py:75: RuntimeError: mat1 and mat2 shapes cannot be multiplied",
    ),
    (
        "seed past 2**32-1",
        ["seed=4294967296"],
        None,
        "seed: Input should be less than or equal to 4294967295",
    ),
    (
        "seeds=N past 2**32-1",
        ["seed=4294967290", "seeds=10"],
        None,
        "seeds=10 from seed=4294967290 runs to seed 4294967299, past the largest seed, "
        "4294967295 (2**32 - 1). Fix: seed=4294967286 or less",
    ),
    (
        "split_seed past 2**64-1",
        ["dataset.split_seed=18446744073709551616"],
        None,
        "dataset.split_seed: Input should be less than or equal to 18446744073709551615",
    ),
    (
        "100-character tag with W&B",
        [f"tags=[{'x' * 100}]"],
        None,
        "tags: the tag 'xxxxxxxxxxxxxxxxxxxx...xxxxxxxxxx' is 100 characters; W&B "
        "(logger.wandb) takes tags of 1 to 64. Fix: shorten it",
    ),
    (
        "W&B project with a slash",
        ["logger.wandb.project=me/reglab"],
        None,
        "logger.wandb.project=me/reglab: has / in it; W&B takes project names",
    ),
    (
        "MLflow tag that is no tag key",
        ["logger=mlflow", "tags=[lr+0.1]"],
        None,
        "tags: the tag 'lr+0.1' cannot be an MLflow tag key (logger.mlflow keeps each tag as one)",
    ),
    (
        "logger.wandb.mode typo",
        ["logger.wandb.mode=ofline"],
        None,
        "logger.wandb.mode=ofline: not a W&B mode; use one of ('auto', 'online', 'offline'",
    ),
]


@pytest.mark.parametrize(
    "overrides,data,expected", [c[1:] for c in IN_PROCESS], ids=[c[0] for c in IN_PROCESS]
)
def test_bad_input_in_process(
    overrides, data, expected, bad, tmp_path, monkeypatch, caplog, capsys
):
    if data is not None:
        monkeypatch.setenv("DATA_DIR", str(bad.get(data, tmp_path / data)))
    monkeypatch.syspath_prepend(str(bad["bad_models"]))  # bad_pkg, as a user's package
    paths = {name: str(path) for name, path in bad.items()}
    paths["nowhere"] = str(tmp_path / "nowhere")
    overrides = [o.format(**paths) for o in overrides]
    expected = expected.format(**paths)
    size = [] if any(o.startswith("dataset=") for o in overrides) else FAST
    out = tmp_path / "run"
    cfg = compose_config([*size, *overrides], out)  # the default logger: W&B (offline)
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as stop:
        handle_run(cfg)
    assert stop.value.code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and all(r.exc_info is None for r in errors)  # a message, not a traceback
    text = "\n".join(r.getMessage() for r in errors)
    assert expected in text, text
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists()  # nothing created: no run folder, no W&B run, no checkpoint


def test_ctrl_c_during_start_up_is_a_clean_interrupted_exit(make_config, monkeypatch, tmp_path):
    import reglab.app.build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(reglab.app.build, "build_datamodule", interrupted)
    with pytest.raises(SystemExit) as stop:
        handle_run(make_config("logger=csv"))
    assert stop.value.code == 1
    import json

    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["epochs"] == 0


# Cases only Hydra's main with a command line shows: Hydra's own errors, its output folders.
CLI = [
    ("trainer key typo", ["trainer.max_epoch=1"], "trainer.max_epoch"),
    ("debug option typo", ["debug=limt"], "Could not find 'debug/limt'"),
    ("run folder in /proc", ["hydra.run.dir=/proc/x"], "Cannot write /proc/x"),
    ("log folder in /proc", ["paths.log_dir=/proc/x"], "Cannot write /proc/x"),
    ("sweep folder in /proc", ["-m", "seed=0,1", "hydra.sweep.dir=/proc/x"], "/proc/x"),
    ("completed run folder", ["hydra.run.dir={completed}"], "holds a completed run"),
]


@pytest.mark.parametrize("args,expected", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_bad_input_on_the_command_line(args, expected, bad, tmp_path):
    completed = bad["completed"]
    before = {p: p.read_bytes() for p in completed.rglob("*") if p.is_file()}
    args = [a.format(completed=completed) for a in args]
    flags = [a for a in args if a.startswith("-")]
    result = run_main([*flags, *FAST, "logger=csv", *(a for a in args if a not in flags)])
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-2000:]
    assert "Traceback" not in output
    assert expected in output
    assert not (tmp_path / "logs").exists()  # no run folder was made
    assert {p: p.read_bytes() for p in completed.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("group", ["experiment", "debug", "hparams_search"])
def test_a_mistyped_option_of_an_opt_in_group_is_an_error(group, tmp_path):
    # these groups default to nothing; a name without a file must not mean "nothing" too
    from hydra.errors import MissingConfigException

    with pytest.raises(MissingConfigException, match=f"{group}/no_such_option"):
        compose_config([f"{group}=no_such_option"], tmp_path / "run")


def test_a_checkpoint_past_max_epochs_is_one_line(make_config, tmp_path, caplog):
    from reglab.app.job import run

    first = make_config("logger=csv", "trainer.max_epochs=2")
    assert run(first)["status"] == "completed"
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    out = tmp_path / "again"
    cfg = compose_config([*FAST, "logger=csv", f"ckpt_path={ckpt}"], out)  # max_epochs=1
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as stop:
        handle_run(cfg)
    assert stop.value.code == 1
    text = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert "has trained 2 epochs, more than trainer.max_epochs=1" in text, text
    assert "trainer.max_epochs=3 or more" in text
    assert not out.exists()


@pytest.fixture(scope="module")
def mlp_checkpoint(tmp_path_factory, fmnist_root):
    """last.ckpt of a finished MLP run (sgd, lr 0.1, no lr schedule), 1 epoch."""
    run_dir = finished_run(tmp_path_factory, fmnist_root, "mlp", [*FAST, "logger=csv"])
    return run_dir / "checkpoints" / "last.ckpt"


# ckpt_path= of a checkpoint this run cannot go on from: (case, overrides, text)
CHECKPOINT_MISMATCHES = [
    (
        "model=lenet from an MLP",
        ["model=lenet"],
        "the checkpoint holds model=mlp (hidden=[256, 256], activation=relu, norm=none, "
        "norm_groups=2) on dataset=fashion_mnist; this run builds model=lenet (",
    ),
    (
        "other hidden sizes",
        ["model.hidden=[128]"],
        "net.layers.1.weight is (256, 784) in the checkpoint, (128, 784) here",
    ),
    (
        "optimizer=adam from sgd (KeyError: 'betas' mid-step before)",
        ["optimizer=adam"],
        "the checkpoint's optimizer state has dampening, momentum, nesterov, which "
        "optimizer._target_=torch.optim.Adam here does not: it is another optimizer's",
    ),
    (
        "another lr (the checkpoint's was used, quietly)",
        ["optimizer.lr=0.01"],
        "so this run's settings would not apply: optimizer.lr=0.01 here, 0.1 in the checkpoint",
    ),
    (
        "an lr schedule the checkpoint lacks",
        ["regularizer=lr_decay"],
        "regularizer.lr_decay is set here, the checkpoint has no lr schedule",
    ),
    (
        "another weight decay",
        ["regularizer=weight_decay"],
        "regularizer.weight_decay=0.0005 here, 0.0 in the checkpoint",
    ),
]


@pytest.mark.parametrize(
    "overrides,expected",
    [c[1:] for c in CHECKPOINT_MISMATCHES],
    ids=[c[0] for c in CHECKPOINT_MISMATCHES],
)
def test_a_checkpoint_of_another_model_or_optimizer_is_one_line(
    overrides, expected, mlp_checkpoint, tmp_path, caplog
):
    out = tmp_path / "again"
    ckpt = f"ckpt_path={mlp_checkpoint}"
    cfg = compose_config([*FAST, "logger=csv", "trainer.max_epochs=2", ckpt, *overrides], out)
    with caplog.at_level(logging.INFO), pytest.raises(SystemExit) as stop:
        handle_run(cfg)
    assert stop.value.code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert errors[0].getMessage().startswith(f"ckpt_path={mlp_checkpoint}: ")
    assert expected in errors[0].getMessage(), errors[0].getMessage()
    assert not out.exists()


def test_a_checkpoint_with_only_another_label_goes_on(mlp_checkpoint, tmp_path):
    from reglab.app.job import run

    out = tmp_path / "again"
    ckpt = f"ckpt_path={mlp_checkpoint}"
    overrides = [*FAST, "logger=csv", "trainer.max_epochs=2", ckpt, "model.name=renamed"]
    assert run(compose_config(overrides, out))["epochs"] == 2


@pytest.mark.parametrize("char", ["=", "(", "{"])
def test_a_value_the_override_grammar_cannot_read_is_one_line(char, tmp_path):
    """`ckpt_path=/x/a=b.ckpt`: Hydra's parser said "mismatched input '=' expecting <EOF>",
    naming neither the override nor the fix; the quoted form it suggests is read."""
    from .conftest import run_cli

    path = f"{tmp_path}/a{char}b.ckpt"
    done = run_cli([f"ckpt_path={path}", "logger=csv"], timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"Cannot read the override 'ckpt_path={path}'")
    assert f"Fix: quote the value, as in \"ckpt_path='{path}'\"" in lines[0]
    quoted = run_main([f"ckpt_path='{path}'", "logger=csv"])
    shown = quoted.stdout + quoted.stderr
    assert quoted.returncode == 1 and f"ckpt_path={path}: no such file" in shown


@pytest.mark.parametrize("value", ["", "ofline"])
def test_a_wandb_mode_wandb_does_not_know_is_one_line(value, make_config, monkeypatch):
    """WANDB_MODE= (set but empty) or a typo: wandb's own settings check raised a pydantic
    traceback when the logger started."""
    from reglab.app.settings import validate_config
    from reglab.config.errors import ConfigError

    monkeypatch.setenv("WANDB_MODE", value)
    with pytest.raises(ConfigError, match=rf"WANDB_MODE='{value}' \(environment\): not a W&B mode"):
        validate_config(make_config())
    monkeypatch.setenv("WANDB_MODE", "offline")
    validate_config(make_config())


def test_a_decayed_lr_in_the_checkpoint_is_not_a_difference(tmp_path):
    """The optimizer state holds the lr the schedule reached; the configured lr is its
    starting lr (`initial_lr`), which is what must match."""
    from reglab.app.job import run

    decay = ["regularizer=lr_decay", "regularizer.lr_decay.step_size=1", "logger=csv"]
    first = run(compose_config([*FAST, *decay, "trainer.max_epochs=2"], tmp_path / "first"))
    assert first["train/lr"] < 0.1  # the schedule has moved the lr
    ckpt = f"ckpt_path={tmp_path / 'first' / 'checkpoints' / 'last.ckpt'}"
    again = compose_config([*FAST, *decay, "trainer.max_epochs=3", ckpt], tmp_path / "again")
    assert run(again)["epochs"] == 3
