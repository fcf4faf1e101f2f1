"""Data errors that tell the user what was searched and how to fix it."""


class DatasetError(Exception):
    """A data set cannot be used as configured; the message says why and what to do."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The data set's files are not where the config points, and could not be downloaded."""


class BadDataFileError(DatasetError, ValueError):
    """A file in the data set cannot be read; the message names it."""
