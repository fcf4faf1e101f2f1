"""Data errors that tell the user what was searched and how to fix it."""


class DatasetNotFoundError(FileNotFoundError):
    """The data set's files are not where the config points, and could not be downloaded."""
