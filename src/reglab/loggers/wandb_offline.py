"""Reads back what an offline W&B run wrote (`run-<id>.wandb`), without a W&B server.

wandb >= 0.19 no longer ships a Python reader for its transaction log. The format is a
LevelDB-style log: a 7-byte file header (":W&B", magic 0xBEE1, version), then 32 KiB blocks
of records, each with a 7-byte header (CRC32, length, type) and a protobuf `Record`.
"""

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

FILE_HEADER = 7
BLOCK = 32 * 1024
RECORD_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


class WandbLogFormatError(ValueError):
    pass


def _payloads(data: bytes):
    if data[:4] != b":W&B":
        raise WandbLogFormatError("not a W&B transaction log (missing ':W&B' header)")
    pos, pending = FILE_HEADER, b""
    while pos + RECORD_HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < RECORD_HEADER:  # block trailer padding
            pos += left_in_block
            continue
        checksum, length, kind = struct.unpack("<IHB", data[pos : pos + RECORD_HEADER])
        if kind == 0 and length == 0:  # zero padding up to the next block
            pos += left_in_block
            continue
        payload = data[pos + RECORD_HEADER : pos + RECORD_HEADER + length]
        if zlib.crc32(bytes([kind]) + payload) & 0xFFFFFFFF != checksum:
            raise WandbLogFormatError(f"checksum mismatch at byte {pos}")
        pos += RECORD_HEADER + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = payload
        elif kind == MIDDLE:
            pending += payload
        elif kind == LAST:
            yield pending + payload
            pending = b""


def _items(items) -> dict:
    """Key/value items; a nested value (a histogram, a table) arrives as one item per leaf
    with its path in `nested_key`, and is rebuilt as a dict."""
    out: dict = {}
    for item in items:
        path = [item.key] if item.key else list(item.nested_key)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = json.loads(item.value_json)
    return out


@dataclass
class OfflineRun:
    run_id: str = ""
    name: str = ""
    group: str = ""
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def read_offline_run(path: str | Path, wait_s: float = 30.0) -> OfflineRun:
    """Parses a `run-<id>.wandb` file, or the offline-run folder that holds one.

    wandb-core writes the file from its own process: `wandb.finish()` can return before the
    last block is on disk (seen on a loaded machine: an empty run). Until the run's `exit`
    record is there, the file is read again, for up to `wait_s` seconds.
    """
    path = Path(path)
    if path.is_dir():
        path = next(path.glob("run-*.wandb"))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            run, finished = _parse(path.read_bytes())
        except WandbLogFormatError:
            if time.monotonic() > deadline:
                raise
            finished = False
        if finished or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def _parse(data: bytes) -> tuple[OfflineRun, bool]:
    """The run as far as it is written, and whether its `exit` record is there."""
    from wandb.proto import wandb_internal_pb2 as pb

    run, finished = OfflineRun(), False
    for payload in _payloads(data):
        record = pb.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.run_id, run.name, run.group = (
                record.run.run_id,
                record.run.display_name,
                record.run.run_group,
            )
            run.config.update(_items(record.run.config.update))
        elif kind == "config":
            run.config.update(_items(record.config.update))
        elif kind == "history":
            run.history.append(_items(record.history.item))
        elif kind == "summary":
            run.summary.update(_items(record.summary.update))
        elif kind == "exit":
            finished = True
    return run, finished
