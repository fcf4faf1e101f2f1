"""Fashion-MNIST loading from the official file format, splits, and the in-memory loader."""

import gzip

import numpy as np
import pytest
import torch

import reglab.data.fashion_mnist as fm
from reglab.config.compose import option
from reglab.data.build import build_datamodule
from reglab.data.config import FashionMNISTConfig
from reglab.data.errors import DatasetNotFoundError
from reglab.data.idx import IDXFormatError, read_idx, write_idx
from reglab.data.loader import TensorBatchLoader

from .conftest import write_fashion_mnist


def config(root, **overrides):
    values = dict(
        name="fashion_mnist",
        data_dir=str(root),
        cache_dir=str(root / "cache"),
        val_size=100,
        download=False,
    )
    return FashionMNISTConfig(**option("dataset", "fashion_mnist") | values | overrides)


def test_idx_round_trip_plain_and_gzip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        path = write_idx(tmp_path / name, array)
        np.testing.assert_array_equal(read_idx(path), array)
    assert gzip.decompress((tmp_path / "a-idx3-ubyte.gz").read_bytes())[:4] == bytes([0, 0, 8, 3])


def test_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(IDXFormatError, match="bad magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(IDXFormatError, match="10 bytes"):
        read_idx(tmp_path / "short")
    (tmp_path / "x.gz").write_bytes(b"not gzip")
    with pytest.raises(IDXFormatError, match="Cannot read"):
        read_idx(tmp_path / "x.gz")


def test_reads_official_layout_and_splits(fmnist_root):
    dm = build_datamodule(config(fmnist_root), seed=0)
    dm.setup()
    s = dm.splits
    assert s.sizes() == {"train": 500, "val": 100, "test": 200}
    assert s.x_train.dtype == torch.uint8 and s.x_train.shape[1:] == (1, 28, 28)
    assert s.y_train.dtype == torch.int64 and set(s.y_train.unique().tolist()) <= set(range(10))
    # train and val partition the official training set exactly
    official = torch.from_numpy(read_idx(fmnist_root / fm.SUBDIR / "train-images-idx3-ubyte.gz"))
    together = torch.cat([s.x_train, s.x_val]).flatten(1)
    assert sorted(map(bytes, together.numpy())) == sorted(map(bytes, official.flatten(1).numpy()))


def test_split_is_seeded_by_split_seed_only(fmnist_root):
    a = build_datamodule(config(fmnist_root), seed=0)
    b = build_datamodule(config(fmnist_root), seed=123)  # run seed differs
    c = build_datamodule(config(fmnist_root, split_seed=1), seed=0)
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(a.splits.x_val, b.splits.x_val)
    assert not torch.equal(a.splits.x_val, c.splits.x_val)


def test_reads_decompressed_files_too(tmp_path, fmnist_root):
    raw = tmp_path / fm.SUBDIR
    raw.mkdir(parents=True)
    for stem in fm.FILES.values():
        (raw / stem).write_bytes(
            gzip.decompress((fmnist_root / fm.SUBDIR / f"{stem}.gz").read_bytes())
        )
    dm = build_datamodule(config(tmp_path), seed=0)
    dm.setup()
    assert dm.splits.sizes()["test"] == 200


def test_nothing_is_written_next_to_the_data(fmnist_root):
    before = {p: p.stat().st_mtime_ns for p in fmnist_root.rglob("*")}
    dm = build_datamodule(config(fmnist_root, download=True), seed=0)
    dm.setup()
    after = {p: p.stat().st_mtime_ns for p in fmnist_root.rglob("*")}
    assert after == before


def test_missing_data_without_download_names_folder_and_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        fm.locate(config(tmp_path / "empty"))
    message = str(info.value)
    assert str(tmp_path / "empty" / "FashionMNIST" / "raw") in message
    assert "DATA_DIR" in message and "paths.data_dir" in message
    assert "dataset.download=false" in message


def test_failed_download_gives_clear_error(tmp_path, monkeypatch):
    def offline(root):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    monkeypatch.setattr(fm, "download", offline)
    with pytest.raises(DatasetNotFoundError, match=r"Download into .* failed: Error downloading"):
        fm.locate(config(tmp_path / "empty", download=True))


def test_download_goes_through_torchvision_with_its_checksums(tmp_path, monkeypatch):
    """`download` asks torchvision (its URLs and MD5s); here its network call is replaced."""
    calls = []

    def fake_download_and_extract(url, download_root, filename=None, md5=None, **kwargs):
        calls.append((filename, md5))
        stem = filename.removesuffix(".gz")
        write_fashion_mnist(tmp_path / "src", n_train=20, n_test=10)
        src = tmp_path / "src" / fm.SUBDIR / f"{stem}.gz"
        (tmp_path / "dl" / fm.SUBDIR).mkdir(parents=True, exist_ok=True)
        (tmp_path / "dl" / fm.SUBDIR / stem).write_bytes(gzip.decompress(src.read_bytes()))

    import torchvision.datasets.mnist as tv_mnist

    monkeypatch.setattr(tv_mnist, "download_and_extract_archive", fake_download_and_extract)
    files = fm.locate(config(tmp_path / "dl", download=True))
    assert set(files) == set(fm.FILES)
    assert len(calls) == 4 and all(md5 and len(md5) == 32 for _, md5 in calls)


def test_normalisation_on_device_batch(fmnist_root):
    dm = build_datamodule(config(fmnist_root, normalize=True), seed=0)
    x = torch.tensor([0, 255], dtype=torch.uint8).view(2, 1, 1, 1)
    out = dm.prepare_inputs(x).flatten()
    expected = (torch.tensor([0.0, 1.0]) - fm.MEAN[0]) / fm.STD[0]
    torch.testing.assert_close(out, expected)
    raw = build_datamodule(config(fmnist_root, normalize=False), seed=0).prepare_inputs(x)
    torch.testing.assert_close(raw.flatten(), torch.tensor([0.0, 1.0]))


def test_loader_sees_every_sample_once_per_epoch_in_a_new_order():
    x = torch.arange(103).view(103, 1)
    loader = TensorBatchLoader(x, x.squeeze(1), batch_size=10, shuffle=True, seed=7)
    assert len(loader) == 11
    orders = []
    for epoch in (0, 1, 0):
        loader.sampler.set_epoch(epoch)
        batches = list(loader)
        assert [len(b[0]) for b in batches] == [10] * 10 + [3]
        seen = torch.cat([b[1] for b in batches])
        assert sorted(seen.tolist()) == list(range(103))
        assert all(torch.equal(bx.squeeze(1), by) for bx, by in batches)
        orders.append(seen)
    assert not torch.equal(orders[0], orders[1])
    assert torch.equal(orders[0], orders[2])  # same (seed, epoch) -> same order


def test_eval_loader_keeps_order_and_drop_last():
    x = torch.arange(25)
    assert torch.equal(torch.cat([b for b, _ in TensorBatchLoader(x, x, 10)]), x)
    assert len(TensorBatchLoader(x, x, 10, drop_last=True)) == 2
