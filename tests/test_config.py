"""Every option composes and validates; bad values stop the run with a message naming the key."""

import pytest

from reglab.app.job import run
from reglab.app.settings import validate_config
from reglab.config import CONFIG_DIR, ConfigError

from .conftest import run_cli, run_main

GROUPS = [
    "dataset",
    "model",
    "regularizer",
    "optimizer",
    "hardware",
    "logger",
    "callbacks",
    "protocol",
]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "override",
    [f"{g}={o}" for g in GROUPS for o in options(g)]
    + [f"experiment={o}" for o in options("experiment")]
    + [f"debug={o}" for o in options("debug")],
)
def test_every_option_composes_and_validates(make_config, override):
    # instance norm and conv dropout need conv layers: the default MLP refuses them (tested in
    # test_images, test_conv_dropout)
    conv_only = ("regularizer=instance_norm", "regularizer=conv_dropout")
    extra = ["model=lenet"] if override in conv_only else []
    settings = validate_config(make_config(*extra, override, fast=False))
    group, option = override.split("=")
    if group in ("dataset", "model"):
        assert getattr(settings, group).name == option


def test_regularizers_compose_as_a_list(make_config):
    settings = validate_config(make_config("regularizer=[dropout,weight_decay,l1]"))
    assert settings.regularizer.dropout == [0.2, 0.5]
    assert settings.regularizer.weight_decay == 5e-4
    assert settings.regularizer.l1 == 1e-5
    assert settings.regularizer.l2 == 0.0


def test_default_regularizer_is_off(make_config):
    reg = validate_config(make_config()).regularizer
    assert (reg.dropout, reg.weight_decay, reg.l2, reg.l1) == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("regularizer.dropout=1.5", "regularizer.dropout: Input should be less than 1"),
        ("regularizer.dropout=[0.2,1.0]", "regularizer.dropout.1: Input should be less than 1"),
        ("regularizer.dropout=-0.1", "greater than or equal to 0"),
        ("regularizer.l2=-1", "regularizer.l2: Input should be greater than or equal to 0"),
        ("regularizer.weight_decay=-0.1", "regularizer.weight_decay"),
        ("regularizer.dropout=[0.1,0.2,0.3]", "regularizer.dropout has 3 values but model.hidden"),
        ("model.activation=swish", "model.activation: Input should be 'relu', 'sigmoid' or 'tanh'"),
        (
            "model.init=xavierr",
            "model.init: Input should be 'default', 'normal', 'unit_normal', 'xavier' or 'course'",
        ),
        ("model.hidden=[]", "model.hidden"),
        ("dataset.batch_size=abc", "dataset.batch_size: Input should be a valid integer"),
        ("dataset.batch_size=0", "dataset.batch_size: Input should be greater than 0"),
        (
            "+model.depth=3",
            "model.depth: unknown key; allowed keys in model: _target_, name, init, hidden",
        ),
        ("+regularizer.dropuot=0.3", "allowed keys in regularizer: dropout, dropout_impl,"),
        ("regularizer.dropout_impl=fast", "'auto', 'torch' or 'scratch'"),
        ("regularizer.dropout_placement=middle", "'after_activation' or 'before_activation'"),
        ("regularizer.noise=-0.1", "regularizer.noise: Input should be greater than or equal to 0"),
        ("regularizer.noise=[0.1]", "regularizer.noise has 1 values but model.hidden has 2"),
        (
            "regularizer=early_stopping regularizer.early_stopping.patience=0",
            "regularizer.early_stopping.patience: Input should be greater than 0",
        ),
        (
            "regularizer=lr_decay regularizer.lr_decay.schedule=linear",
            "regularizer.lr_decay.schedule: Input should be 'step' or 'cosine'",
        ),
        (
            "regularizer=lr_decay regularizer.lr_decay.gamma=2",
            "regularizer.lr_decay.gamma: Input should be less than or equal to 1",
        ),
        ("optimizer.lr=0", "optimizer.lr: Input should be greater than 0"),
        ("+optimizer.weight_decay=0.1", "set regularizer.weight_decay"),
        (
            "+optimizer.moment=0.9",
            "optimizer.moment: not an argument of SGD; did you mean optimizer.momentum? "
            "allowed: lr,",
        ),
        ("optimizer.momentum=1.2", "optimizer.momentum must lie in [0, 1)"),
        ("hardware.precision=8", "hardware.precision"),
        ("trainer.max_epochs=0", "trainer.max_epochs: Input should be greater than 0"),
        ("seed=-1", "seed: Input should be greater than or equal to 0"),
        # callbacks and loggers: typed entries, their other keys checked against the class
        (
            "+callbacks.model_checkpoint.sav_top_k=2",
            "callbacks.model_checkpoint.sav_top_k: not an argument of ModelCheckpoint; did you "
            "mean callbacks.model_checkpoint.save_top_k? allowed: dirpath, filename, monitor,",
        ),
        (
            "callbacks.divergence_guard.max_grad_norm=-1",
            "callbacks.divergence_guard.max_grad_norm: Input should be greater than 0",
        ),
        ("callbacks.model_checkpoint.filename=[a]", "callbacks.model_checkpoint.filename:"),
        (
            "+callbacks.x._target_=tests.helpers.KillAt +callbacks.x.epok=1",
            "callbacks.x.epok: not an argument of KillAt; did you mean callbacks.x.epoch?",
        ),
        (
            "logger=mlflow +logger.mlflow.run_nam=x",
            "logger.mlflow.run_nam: not an argument of MLFlowLogger; did you mean "
            "logger.mlflow.run_name? allowed: experiment_name, run_name,",
        ),
        ("logger.wandb.log_model=[x]", "logger.wandb.log_model"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(make_config, override, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(make_config(*override.split(" ")))
    assert expected in str(info.value)


def test_validation_happens_before_data_is_loaded(make_config, tmp_path):
    # The data folder does not exist and downloading is on: a config error must come first.
    cfg = make_config("regularizer.dropout=1.5", f"paths.data_dir={tmp_path / 'nothing'}")
    with pytest.raises(ConfigError, match=r"regularizer\.dropout"):
        run(cfg)
    assert not (tmp_path / "nothing").exists()


def test_cli_reports_bad_value_without_traceback():
    result = run_cli(["regularizer.dropout=1.5", "logger=csv"])
    assert result.returncode == 1
    assert "regularizer.dropout: Input should be less than 1" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_cli_unknown_option_lists_available_ones():
    result = run_main(["regularizer=dropuot"])
    assert result.returncode != 0
    assert "Available options in 'regularizer'" in result.stderr
    assert "dropout" in result.stderr
