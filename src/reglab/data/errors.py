"""Data errors that tell the user what was searched and how to fix it."""


class DatasetError(Exception):
    """A data set cannot be used as configured; the message says why and what to do."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The data set's files are not where the config points, and could not be downloaded."""


class BadDataFileError(DatasetError, ValueError):
    """A file in the data set cannot be read; the message names it."""


def check_labels(labels, num_classes: int, source) -> None:
    """Stops on a label outside 0 .. num_classes-1, naming the file it came from (the loss
    would fail with `IndexError: Target 12 is out of bounds` at some step, naming nothing)."""
    import numpy as np

    labels = np.asarray(labels)
    if labels.size == 0:
        return
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        bad = labels[(labels < 0) | (labels >= num_classes)]
        raise BadDataFileError(
            f"{source}: {len(bad)} label(s) outside the {num_classes} classes 0..{num_classes - 1} "
            f"(e.g. {int(bad[0])}): the file is damaged or not this data set's. Fix: replace it "
            "with the official file."
        )
