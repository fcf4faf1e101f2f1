"""Stacked replicas' run state is written by a thread (BackgroundCheckpointIO): the file holds
what was saved (a snapshot, not what training changed since), writes land in order, and a
failed write is raised at the next save or at teardown, never lost."""

import errno
import threading

import pytest
import torch

import reglab.outputs.checkpoint_io as checkpoint_io
from reglab.outputs.checkpoint_io import BACKGROUND_BYTES, BackgroundCheckpointIO, read_checkpoint

LARGE = BACKGROUND_BYTES // 4 + 1  # float32 elements: just over the threshold


@pytest.fixture
def writers(monkeypatch):
    """The thread that wrote each file."""
    names = []
    write_bytes = checkpoint_io.write_bytes

    def recorded(path, data):
        names.append(threading.current_thread().name)
        return write_bytes(path, data)

    monkeypatch.setattr(checkpoint_io, "write_bytes", recorded)
    return names


def test_a_large_checkpoint_is_written_by_a_thread_as_saved(tmp_path, writers):
    path = tmp_path / "last.ckpt"
    weights = torch.arange(LARGE, dtype=torch.float32)
    saved = weights.clone()
    plugin = BackgroundCheckpointIO()
    plugin.save_checkpoint({"state_dict": {"w": weights}, "epoch": 0}, path)
    weights.add_(1.0)  # training goes on: the file keeps the weights as saved
    plugin.save_checkpoint({"state_dict": {"w": weights}, "epoch": 1}, path)
    weights.add_(1.0)
    plugin.teardown()
    written = read_checkpoint(path)
    assert written["epoch"] == 1 and torch.equal(written["state_dict"]["w"], saved + 1)
    assert len(writers) == 2 and all(name.startswith("checkpoint") for name in writers)
    assert not list(tmp_path.glob("*.tmp"))


def test_a_small_checkpoint_is_on_disk_when_save_returns(tmp_path, writers):
    path = tmp_path / "last.ckpt"
    BackgroundCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    assert torch.equal(read_checkpoint(path)["state_dict"]["w"], torch.ones(3))
    assert writers == [threading.main_thread().name]


@pytest.mark.parametrize("surfaces_at", ["teardown", "next save"])
def test_a_failed_background_write_is_raised(tmp_path, monkeypatch, surfaces_at):
    def full_disk(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(checkpoint_io, "write_bytes", full_disk)
    plugin = BackgroundCheckpointIO()
    big = {"state_dict": {"w": torch.zeros(LARGE)}}
    plugin.save_checkpoint(big, tmp_path / "last.ckpt")  # handed to the thread
    with pytest.raises(OSError) as raised:
        if surfaces_at == "teardown":
            plugin.teardown()
        else:
            plugin.save_checkpoint(big, tmp_path / "last.ckpt")
    assert raised.value.errno == errno.ENOSPC
    plugin.teardown()  # raised once, then nothing is left in flight


def test_the_run_state_is_serialized_without_zip_crcs_and_torch_keeps_its_setting(tmp_path):
    """torch.load never checks a record's CRC-32; computing them was 3/4 of serializing a
    stack's state. The option is torch's global: it is back as it was after each save."""
    import zipfile

    path = tmp_path / "last.ckpt"
    weights = torch.arange(LARGE, dtype=torch.float32)
    plugin = BackgroundCheckpointIO()
    plugin.save_checkpoint({"state_dict": {"w": weights}}, path)
    plugin.teardown()
    assert torch.serialization.get_crc32_options() is True
    assert torch.equal(read_checkpoint(path)["state_dict"]["w"], weights)
    with zipfile.ZipFile(path) as archive:
        crcs = [info.CRC for info in archive.infolist() if info.filename.endswith("/data/0")]
    assert crcs == [0]
    # a single run's checkpoint (AtomicCheckpointIO) keeps them
    checkpoint_io.AtomicCheckpointIO().save_checkpoint({"w": weights}, tmp_path / "one.ckpt")
    with zipfile.ZipFile(tmp_path / "one.ckpt") as archive:
        assert all(info.CRC for info in archive.infolist() if info.filename.endswith("/data/0"))
