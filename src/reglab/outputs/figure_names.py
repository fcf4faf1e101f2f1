"""A figure's files: the `.png` to look at and its `.svg` twin for a paper. Matplotlib-free:
a sweep report's page is assembled where nothing is drawn."""

from pathlib import Path

VECTOR_SUFFIX = ".svg"


def vector_path(path: str | Path) -> Path:
    """The vector twin of a figure's `.png`."""
    return Path(path).with_suffix(VECTOR_SUFFIX)
