"""A checkpoint is data, never code: hostile files through every entry point that reads one.

Payloads: a pickled object whose `__reduce__` runs a command, and stored configs whose model,
data set, optimizer or callback `_target_` is a callable that writes a marker file, and a
stored output folder that points outside. Entry points: `train.py ckpt_path=`, `resume=true`,
`eval.py`, `RegLabModule.load_from_checkpoint` and `predict`. Each case asserts that nothing
ran (no marker) and that a refused file is one line naming it, exit 1, no traceback.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch

from reglab.config.errors import CheckpointRefused
from tests.conftest import TOY, finished_run, run_main
from tests.payloads import PickledCommand

PAYLOADS = ("pickle", "model", "dataset", "optimizer", "callback", "output_dir")
# What each entry point must do with each payload: refuse the file (one line, exit 1), or
# load it and ignore the stored section (it is never built from the file).
REFUSED, IGNORED = "refused", "ignored"
EXPECTED = {
    # train and resume rebuild everything from this machine's config; only the weights and
    # the loop state come from the file
    "train_ckpt_path": dict.fromkeys(PAYLOADS, IGNORED) | {"pickle": REFUSED},
    "resume": dict.fromkeys(PAYLOADS, IGNORED) | {"pickle": REFUSED},
    # eval rebuilds the model, optimizer and data set from the stored config
    "eval": dict.fromkeys(PAYLOADS, REFUSED) | {"callback": IGNORED, "output_dir": IGNORED},
    "load_from_checkpoint": dict.fromkeys(PAYLOADS, IGNORED)
    | {"pickle": REFUSED, "model": REFUSED, "optimizer": REFUSED},
    "predict": dict.fromkeys(PAYLOADS, IGNORED)
    | {"pickle": REFUSED, "model": REFUSED, "optimizer": REFUSED},
}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, fmnist_root) -> Path:
    return finished_run(tmp_path_factory, fmnist_root, "clean")


def hostile(clean: Path, payload: str, folder: Path) -> tuple[Path, Path, Path]:
    """A copy of the clean checkpoint carrying `payload`; returns (ckpt, marker, escape)."""
    marker, escape = folder / "payload_ran", folder / "escaped"
    checkpoint = torch.load(clean / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    config = hparams["config"]
    touch = {"_target_": "tests.payloads.touch", "marker": str(marker)}
    if payload == "pickle":
        checkpoint["callbacks"]["hostile"] = PickledCommand(marker)
    elif payload == "model":
        hparams["model"] = config["model"] = dict(touch)
    elif payload == "dataset":
        config["dataset"] = dict(touch)
    elif payload == "optimizer":
        hparams["optimizer"] = config["optimizer"] = {**touch, "_partial_": False, "lr": 0.1}
    elif payload == "callback":
        config["callbacks"] = {"hostile": dict(touch)}
    elif payload == "output_dir":
        config["paths"]["output_dir"] = str(folder / "eval" / ".." / "escaped")
        config["paths"]["log_dir"] = str(folder / ".." / ".." / "escaped")
    ckpt = folder / "hostile.ckpt"
    torch.save(checkpoint, ckpt)
    return ckpt, marker, escape


def unfinished_copy(clean: Path, ckpt: Path, folder: Path) -> Path:
    """The clean run as if interrupted, its last.ckpt replaced by the hostile file."""
    copy = folder / "interrupted"
    shutil.copytree(clean, copy)
    record = json.loads((copy / "metrics.json").read_text())
    record |= {"status": "interrupted", "overrides": TOY}  # the run resume=true goes on with
    (copy / "metrics.json").write_text(json.dumps(record))
    shutil.copy(ckpt, copy / "checkpoints" / "last.ckpt")
    return copy


def enter(entry: str, ckpt: Path, clean: Path, folder: Path) -> tuple[str, str | None]:
    """Runs the entry point on `ckpt`; (outcome, the refusal's text)."""
    if entry in ("load_from_checkpoint", "predict"):
        from reglab.lit import RegLabModule

        try:
            module = RegLabModule.load_from_checkpoint(ckpt)
        except CheckpointRefused as exc:
            return REFUSED, str(exc)
        if entry == "predict":
            module.predict(torch.zeros(3, 1))
        return IGNORED, None
    if entry == "eval":
        args, main = [f"ckpt_path={ckpt}", f"hydra.run.dir={folder / 'eval'}"], "eval"
    elif entry == "train_ckpt_path":
        more = ["trainer.max_epochs=2", f"ckpt_path={ckpt}", f"hydra.run.dir={folder / 'new'}"]
        args, main = [*TOY[:1], *TOY[2:], *more], "train"
    else:
        copy = unfinished_copy(clean, ckpt, folder)
        args, main = [*TOY, "resume=true", f"hydra.run.dir={copy}"], "train"
    result = run_main(args, entry=main)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    if result.returncode == 0:
        return IGNORED, None
    refusals = [line for line in output.splitlines() if "refused" in line or "ERROR" in line]
    assert len(refusals) == 1, output[-3000:]
    return REFUSED, refusals[0]


@pytest.mark.parametrize("entry", list(EXPECTED))
@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_checkpoint_runs_nothing(clean_run, tmp_path, entry, payload):
    ckpt, marker, escape = hostile(clean_run, payload, tmp_path)
    outcome, message = enter(entry, ckpt, clean_run, tmp_path)
    assert not marker.exists(), f"{payload} ran through {entry}"
    assert not escape.exists(), f"{entry} wrote outside its folder"
    assert outcome == EXPECTED[entry][payload], message
    if outcome == REFUSED:  # one line naming the file
        assert "hostile.ckpt" in message or "last.ckpt" in message


def test_reglab_checkpoints_load_as_plain_data(clean_run):
    """What the rule costs reglab's own files: nothing (weights_only=True reads them)."""
    checkpoint = torch.load(clean_run / "checkpoints" / "last.ckpt", weights_only=True)
    assert {"state_dict", "hyper_parameters", "optimizer_states"} <= set(checkpoint)


def test_a_cifar10_batch_file_is_data_too(tmp_path):
    """The official CIFAR-10 files are Python pickles: a planted one is refused, not run."""
    import pickle

    from reglab.data.cifar10 import read_batch
    from reglab.data.errors import BadDataFileError
    from tests.conftest import write_cifar10

    folder = write_cifar10(tmp_path) / "cifar-10-batches-py"
    images, labels = read_batch(folder / "data_batch_1")  # a real batch still reads
    assert images.shape[1:] == (3, 32, 32) and len(labels) == len(images)
    marker = tmp_path / "payload_ran"
    with (folder / "data_batch_2").open("wb") as f:
        pickle.dump({"data": PickledCommand(marker), "labels": [0]}, f)
    with pytest.raises(BadDataFileError, match=r"posix\.system.*refused"):
        read_batch(folder / "data_batch_2")
    assert not marker.exists()


def test_eval_reads_and_caches_data_where_this_machine_says(tmp_path, make_config):
    """A stored data set's data_dir / cache_dir name folders of the machine that trained it
    (or an attacker's): eval reads from, and writes its cache into, this machine's."""
    from reglab.app.evaluate import trained_settings
    from reglab.app.settings import PathsConfig, validate_config

    here = PathsConfig(
        root_dir=str(tmp_path),
        data_dir=str(tmp_path / "data"),
        cache_dir=str(tmp_path / "cache"),
        log_dir=str(tmp_path / "logs"),
        output_dir=str(tmp_path / "eval"),
    )
    settings = validate_config(make_config())
    stored = settings.model_dump(by_alias=True)  # a checkpoint's stored config
    stored["dataset"] |= {
        "data_dir": "/elsewhere/data",  # download: true would write there
        "cache_dir": "/tmp/evil/cache",
    }
    hardware = settings.hardware
    dataset = trained_settings(stored, here, hardware).dataset.model_dump()
    assert dataset["cache_dir"] == here.cache_dir and dataset["data_dir"] == here.data_dir


def test_a_checkpoint_of_the_earlier_layout_loads(clean_run, tmp_path):
    """Checkpoints written before the run config was stored once held the model, regularizer
    and optimizer sections and `compile` again beside it: they still load, from the config."""
    from reglab.lit import RegLabModule

    checkpoint = torch.load(clean_run / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    config = hparams["config"]
    hparams.update(
        model=config["model"],
        regularizer=config["regularizer"],
        optimizer=config["optimizer"],
        compile=False,
    )
    torch.save(checkpoint, tmp_path / "old.ckpt")
    module = RegLabModule.load_from_checkpoint(tmp_path / "old.ckpt")
    assert set(module.hparams) == {"config", "info", "fused"}
    assert module.settings.model.label == config["model"]["name"]
