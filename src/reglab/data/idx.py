"""The IDX format of the (Fashion-)MNIST files, plain or gzip-compressed."""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from reglab.data.errors import BadDataFileError

# The third byte of the magic number names the element type; (Fashion-)MNIST uses 0x08.
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(np.uint8): 0x08}


class IDXFormatError(BadDataFileError):
    """A file that is not a valid IDX file (the message names it and says it is damaged)."""


DAMAGED = "the file is damaged. Fix: replace it with the official file (or delete it: with "
DAMAGED += "dataset.download=true and a network, reglab downloads it again)"


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """Reads an IDX file (`.gz` or not) into an array of its declared shape and type."""
    path = Path(path)
    try:
        with _open(path) as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise IDXFormatError(f"Cannot read {path} ({exc}): {DAMAGED}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise IDXFormatError(
            f"{path}: not an IDX file (bad magic number {raw[:4].hex()}): {DAMAGED}"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXFormatError(f"{path}: truncated header: {DAMAGED}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise IDXFormatError(
            f"{path}: header says shape {shape} ({expected} bytes) but "
            f"{len(raw) - header} bytes follow: {DAMAGED}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Writes a uint8 array as an IDX file, gzip-compressed when the name ends in `.gz`."""
    path = Path(path)
    array = np.ascontiguousarray(array)
    code = _CODES.get(array.dtype)
    if code is None:
        raise ValueError(f"write_idx supports uint8 arrays, got {array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())
    return path
