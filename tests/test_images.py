"""The image track: CIFAR-10 pickles, image folders (RMB) with their cache, LeNet / LeNet-BN,
normalization layers, initialisations and batched augmentation."""

import json
import pickle

import pytest
import torch
from torch import nn

import reglab.data.image_folder as imf
from reglab.app.settings import validate_config
from reglab.config import ConfigError
from reglab.data.build import build_datamodule
from reglab.data.errors import BadDataFileError, DatasetNotFoundError
from reglab.models.build import build_model
from reglab.models.init import initialize
from reglab.models.lenet import LeNet
from reglab.regularizers.augment import (
    LUMA,
    AugmentConfig,
    BatchAugment,
    random_crop,
    random_flip,
    random_grayscale,
)
from reglab.regularizers.regularization import Regularization

from .conftest import FAST, run_main, write_image_folder


def settings(make_config, *overrides):
    # FAST sets Fashion-MNIST/CIFAR keys; the image folder has no val_size
    return validate_config(make_config(*overrides, fast="dataset=rmb" not in overrides))


def loaded(make_config, *overrides):
    s = settings(make_config, *overrides)
    dm = build_datamodule(s.dataset, seed=s.seed)
    dm.setup()
    return dm


# --- CIFAR-10 -------------------------------------------------------------------------------


def test_cifar10_pickles_shapes_planes_and_splits(make_config, fmnist_root):
    dm = loaded(make_config, "dataset=cifar10", "dataset.val_size=20")
    s = dm.splits
    assert s.sizes() == {"train": 180, "val": 20, "test": 40}
    assert s.x_train.dtype == torch.uint8 and s.x_train.shape[1:] == (3, 32, 32)
    assert dm.info.in_shape == (3, 32, 32) and len(dm.info.class_names) == 10
    # rows are R, G, B planes: the first 1024 bytes of a row are the red channel
    with (fmnist_root / "cifar-10-batches-py" / "test_batch").open("rb") as f:
        entry = pickle.load(f)
    row = torch.from_numpy(entry["data"][0])
    assert torch.equal(s.x_test[0, 0].flatten(), row[:1024])
    assert torch.equal(s.x_test[0, 2].flatten(), row[2048:])
    assert s.y_test.tolist() == entry["labels"]
    # every training image is in exactly one of train / val
    all_train = torch.cat([s.x_train, s.x_val]).flatten(1)
    assert len({tuple(r.tolist()) for r in all_train}) == 200


def test_cifar10_missing_offline_names_folder_and_fix(make_config, tmp_path):
    s = settings(make_config, "dataset=cifar10", f"paths.data_dir={tmp_path}/none")
    dm = build_datamodule(s.dataset.model_copy(update={"download": False}), seed=0)
    with pytest.raises(DatasetNotFoundError) as info:
        dm.setup()
    message = str(info.value)
    assert f"{tmp_path}/none/cifar-10-batches-py" in message and "data_batch_1" in message
    assert "DATA_DIR" in message and "dataset.download=false" in message


def test_cifar10_bad_pickle_names_file(make_config, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(b"not a pickle")
    dm = build_datamodule(
        settings(make_config, "dataset=cifar10", f"paths.data_dir={tmp_path}").dataset, seed=0
    )
    with pytest.raises(ValueError, match="data_batch_1 is not a CIFAR-10 batch file"):
        dm.setup()


# --- image folder (RMB) ---------------------------------------------------------------------


def test_rmb_split_per_class_shapes_and_classes(make_config):
    dm = loaded(make_config, "dataset=rmb")
    s = dm.splits
    assert dm.info.class_names == ("1", "100") and dm.info.num_outputs == 2
    assert s.x_train.shape[1:] == (3, 32, 32) and s.x_train.dtype == torch.uint8
    for labels, per_class in ((s.y_train, 8), (s.y_val, 1), (s.y_test, 1)):
        assert torch.bincount(labels, minlength=2).tolist() == [per_class, per_class]
    # colours survive decoding: class '1' is red, class '100' blue
    red = s.x_train[s.y_train == 0].float().mean((0, 2, 3))
    assert red[0] > 150 > red[2]


def test_rmb_split_is_seeded(make_config):
    a = loaded(make_config, "dataset=rmb").splits
    b = loaded(make_config, "dataset=rmb").splits
    c = loaded(make_config, "dataset=rmb", "dataset.split_seed=1").splits
    assert torch.equal(a.x_test, b.x_test) and not torch.equal(a.x_test, c.x_test)


def test_rmb_cache_is_reused_and_invalidated(make_config, tmp_path, monkeypatch):
    root = write_image_folder(tmp_path / "notes", per_class=5)
    cfg = settings(make_config, "dataset=rmb", f"dataset.root={root}").dataset
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    first = imf.load_images(cfg)
    assert not first["cache_hit"] and first["images"].shape == (10, 3, 32, 32)
    assert not str(first["cache"]).startswith(str(root))  # never inside the data folder
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the cache is current")

    monkeypatch.setattr(imf, "decode", no_decoding)
    second = imf.load_images(cfg)
    assert second["cache_hit"] and torch.equal(second["images"], first["images"])

    monkeypatch.undo()
    (root / "1" / "1_00.jpg").rename(root / "1" / "1_00_renamed.jpg")
    third = imf.load_images(cfg)
    assert not third["cache_hit"] and third["cache"] != first["cache"]
    other_size = cfg.model_copy(update={"image_size": 28})
    assert imf.load_images(other_size)["images"].shape[-2:] == (28, 28)


def test_rmb_bad_file_error_or_skip(make_config, tmp_path):
    root = write_image_folder(tmp_path / "notes", per_class=10)
    (root / "100" / "notes.txt").write_text("not an image")
    (root / "100" / ".DS_Store").write_bytes(b"\0")  # hidden files are not data
    cfg = settings(make_config, "dataset=rmb", f"dataset.root={root}").dataset
    with pytest.raises(BadDataFileError, match=r"notes\.txt.*dataset\.on_bad_file=skip"):
        imf.load_images(cfg)
    with pytest.warns(UserWarning, match=r"Skipped .*notes\.txt"):
        entry = imf.load_images(cfg.model_copy(update={"on_bad_file": "skip"}))
    assert len(entry["images"]) == 20 and entry["skipped"] == [str(root / "100" / "notes.txt")]


def test_rmb_missing_folder_is_a_clear_error(make_config, tmp_path):
    result = run_main(["dataset=rmb", f"dataset.root={tmp_path}/nowhere", "logger=csv"])
    assert result.returncode == 1
    assert f"Image folder not found: {tmp_path}/nowhere" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


# --- models ---------------------------------------------------------------------------------


@pytest.mark.parametrize("in_shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("model", ["lenet", "lenet_bn"])
@pytest.mark.parametrize("norm", ["none", "batch", "layer", "group", "instance"])
def test_lenet_every_norm_forward_and_backward(make_config, in_shape, model, norm):
    s = settings(make_config, f"model={model}", f"model.norm={norm}", "regularizer=dropout")
    net = build_model(s.model, in_shape, 7, Regularization(s.regularizer))
    out = net(torch.randn(5, *in_shape))
    assert out.shape == (5, 7)
    out.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    kinds = {type(m) for m in net.modules()}
    expected = {
        "batch": {nn.BatchNorm2d, nn.BatchNorm1d},
        "layer": {nn.GroupNorm, nn.LayerNorm},
        "group": {nn.GroupNorm},
        "instance": {nn.InstanceNorm2d},
        "none": set(),
    }[norm]
    assert expected <= kinds
    if norm == "none":
        assert not kinds & {nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm}


def test_lenet_architecture_and_bn_placement():
    net = LeNet((3, 32, 32), 10, norm="batch")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (3, 6, (5, 5), (0, 0)),
        (6, 16, (5, 5), (0, 0)),
    ]
    linears = [(m.in_features, m.out_features) for m in net.modules() if isinstance(m, nn.Linear)]
    assert linears == [(400, 120), (120, 84), (84, 10)]
    # the course's LeNet-BN: BN after both convs and after fc1 only
    assert [type(m) for m in net.classifier][:3] == [nn.Linear, nn.BatchNorm1d, nn.ReLU]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in net.modules()) == 1
    assert LeNet((1, 28, 28), 10).features[0].padding == (2, 2)  # d2l 6.6
    with pytest.raises(ValueError, match="28x28 or 32x32"):
        LeNet((3, 64, 64), 10)


@pytest.mark.parametrize("norm", ["batch", "layer", "group"])
def test_mlp_norms(make_config, norm):
    s = settings(make_config, f"model.norm={norm}")
    net = build_model(s.model, (1, 28, 28), 10, Regularization(s.regularizer))
    net(torch.randn(4, 1, 28, 28)).sum().backward()
    norms = [
        m for m in net.modules() if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm, nn.GroupNorm))
    ]
    assert len(norms) == 2  # one per hidden layer


def test_course_and_xavier_init():
    torch.manual_seed(0)
    net = initialize(LeNet((3, 32, 32), 2, norm="batch"), "course")
    fc = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert abs(fc[0].weight.std().item() - 1.0) < 0.05 and fc[0].bias.abs().sum() == 0
    conv = net.features[0]
    expected_std = (2 / (conv.weight[0].numel() + conv.weight[:, 0].numel())) ** 0.5  # xavier
    assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.15)
    bn = net.features[1]
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    xavier = initialize(LeNet((3, 32, 32), 2), "xavier")
    bound = (6 / (400 + 120)) ** 0.5
    w = xavier.classifier[0].weight
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=lenet", "model.norm=group", "model.norm_groups=4"], "norm_groups=4 must divide"),
        (["model.norm=instance"], "model.norm"),
        (["model=lenet", "model.init=kaiming"], "model.init"),
        (["regularizer=augment", "regularizer.augment.flip=1.5"], "regularizer.augment.flip"),
    ],
)
def test_model_and_augment_config_errors(make_config, overrides, message):
    with pytest.raises(ConfigError, match=message):
        settings(make_config, *overrides)


# --- augmentation ---------------------------------------------------------------------------


def _images(n=8, seed=0):
    return torch.randint(0, 256, (n, 3, 12, 10), generator=torch.Generator().manual_seed(seed)).to(
        torch.uint8
    )


def test_flip_really_flips_and_only_the_chosen():
    x = _images()
    g = torch.Generator().manual_seed(0)
    assert torch.equal(random_flip(x, 1.0, g), x.flip(3))
    assert torch.equal(random_flip(x, 0.0, g), x)
    half = random_flip(_images(200), 0.5, g)
    flipped = (half == _images(200).flip(3)).flatten(1).all(1)
    assert 60 < flipped.sum() < 140


def test_crop_keeps_shape_and_is_a_window_of_the_padded_image():
    x = _images()
    out = random_crop(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    offsets = []
    for i in range(len(x)):
        windows = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[i], padded[i, :, dy : dy + 12, dx : dx + 10])
        ]
        assert windows, f"sample {i} is not a crop"
        offsets.append(windows[0])
    assert len(set(offsets)) > 1  # different samples, different crops


def test_grayscale_uses_luma_on_chosen_samples():
    x = _images().float() / 255
    out = random_grayscale(x, 1.0, torch.Generator().manual_seed(0))
    luma = sum(w * x[:, c] for c, w in enumerate(LUMA))
    for c in range(3):
        torch.testing.assert_close(out[:, c], luma)


def test_samples_get_different_transforms_and_runs_repeat():
    x = _images(1).expand(64, -1, -1, -1).contiguous()
    augment = BatchAugment(AugmentConfig(crop_padding=4, flip=0.5, grayscale=0.5), seed=3)
    augment.start(torch.device("cpu"), epoch=0)
    out = augment(x)
    assert out.dtype == torch.float32 and out.shape == x.shape
    assert len({tuple(o.flatten().tolist()) for o in out}) > 20
    again = BatchAugment(augment.cfg, seed=3)
    again.start(torch.device("cpu"), epoch=0)
    assert torch.equal(again(x), out)  # seeded by (seed, epoch, rank)
    again.start(torch.device("cpu"), epoch=1)
    assert not torch.equal(again(x), out)


def test_augmentation_applies_to_training_batches_only(make_config):
    dm = loaded(make_config, "dataset=rmb", "regularizer=augment")
    s = settings(make_config, "dataset=rmb", "regularizer=augment")
    dm.augment = Regularization(s.regularizer).augmentation(seed=0)

    class FakeTrainer:
        training = True
        current_epoch = 0
        global_rank = 0

        class strategy:
            root_device = torch.device("cpu")

    dm.trainer = FakeTrainer()
    x, y = dm.splits.x_train[:16], dm.splits.y_train[:16]
    plain = dm.prepare_inputs(x.clone())
    trained, _ = dm.on_after_batch_transfer((x.clone(), y), 0)
    assert not torch.equal(trained, plain)
    FakeTrainer.training = False
    evaluated, _ = dm.on_after_batch_transfer((x.clone(), y), 0)
    assert torch.equal(evaluated, plain)


def test_augment_needs_images_and_rgb_for_grayscale(tmp_path):
    result = run_main([*FAST, "regularizer=augment", "regularizer.augment.grayscale=0.5"])
    assert result.returncode == 1
    assert "regularizer.augment.grayscale=0.5 needs RGB images" in result.stdout + result.stderr
    result = run_main(["dataset=toy1d", "model=mlp", "regularizer=augment", "trainer.max_epochs=1"])
    assert result.returncode == 1
    assert "regularizer.augment needs an image data set" in result.stdout + result.stderr


# --- experiments ----------------------------------------------------------------------------


def test_rmb_bn_experiment_runs_all_three(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main(
        [
            "-m",
            "experiment=rmb_bn",
            "trainer.max_epochs=2",
            "logger=csv",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = {}
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        record = json.loads((job / "metrics.json").read_text())
        (case,) = [o for o in record["overrides"] if o.startswith("+case/")]
        records[case] = record
        config = (job / ".hydra" / "config.yaml").read_text()
        assert "momentum: 0.9" in config and "grayscale: 0.8" in config
    assert set(records) == {
        "+case/rmb_bn=lenet",
        "+case/rmb_bn=lenet_course_init",
        "+case/rmb_bn=lenet_bn",
    }
    for record in records.values():
        assert record["status"] in ("completed", "diverged") and "train/loss_max" in record
    # the course's init: N(0, 1) fc weights blow the loss up; plain LeNet's stays near ln 2
    course, plain = records["+case/rmb_bn=lenet_course_init"], records["+case/rmb_bn=lenet"]
    assert course["train/loss_max"] > 100 * plain["train/loss_max"]
    summary = (sweep / "summary.md").read_text()
    assert "train/loss_max" in summary and "lenet_bn" in summary
    assert (sweep / "comparison.png").stat().st_size > 10_000


def test_cifar10_dropout_experiment_with_per_class_accuracy(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main(
        [
            "-m",
            "experiment=cifar10_dropout",
            "trainer.max_epochs=1",
            "dataset.batch_size=32",
            "dataset.val_size=20",
            "logger=csv",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.name.isdigit())
    assert len(jobs) == 2
    for job in jobs:
        record = json.loads((job / "metrics.json").read_text())
        assert record["status"] == "completed" and record["choices"]["model"] == "lenet"
        table = (job / "per_class_accuracy.csv").read_text().splitlines()
        assert len(table) == 11 and "airplane" in table[1]
    regularizers = {
        json.loads((j / "metrics.json").read_text())["choices"]["regularizer"] for j in jobs
    }
    assert regularizers == {"none", "dropout"}


@pytest.mark.parametrize("norm", ["batch", "layer", "group", "instance"])
def test_norm_regularizer_options_compose(make_config, norm):
    cfg = make_config("model=lenet", f"regularizer=[dropout,{norm}_norm]")
    s = validate_config(cfg)
    assert s.model.norm == norm and s.regularizer.dropout == [0.2, 0.5]


def test_norm_is_named_in_the_run_choices(tmp_path):
    out = tmp_path / "run"
    result = run_main(
        [
            *FAST,
            "model=lenet",
            "regularizer=[dropout,batch_norm]",
            "logger=csv",
            f"hydra.run.dir={out}",
        ]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((out / "metrics.json").read_text())
    assert record["choices"]["regularizer"] == "dropout+batch_norm"


@pytest.mark.slow
def test_rmb_bn_on_the_real_banknotes(tmp_path):
    """The course's comparison on ../shared/data/RMB_data (200 photos), end to end."""
    import os
    from pathlib import Path

    from .conftest import REPO

    real = Path(os.environ.get("REGLAB_REAL_DATA_DIR", str(REPO.parent / "shared" / "data")))
    if not (real / "RMB_data" / "100").is_dir():
        pytest.skip(f"RMB_data not found in {real}")
    sweep = tmp_path / "sweep"
    result = run_main(
        ["-m", "experiment=rmb_bn", "logger=csv", f"hydra.sweep.dir={sweep}"],
        env={"DATA_DIR": str(real)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = {}
    for job in (p for p in sweep.iterdir() if p.name.isdigit()):
        record = json.loads((job / "metrics.json").read_text())
        (case,) = [o for o in record["overrides"] if o.startswith("+case/")]
        records[case.split("=")[1]] = record
    assert records["lenet"]["val/acc"] >= 0.8 and records["lenet_bn"]["val/acc"] >= 0.8
    course = records["lenet_course_init"]
    assert course["status"] == "diverged" or course["train/loss_max"] > 1e6
