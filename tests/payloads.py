"""What a hostile checkpoint names as a `_target_` or pickles: each writes a marker file when
called, so a test can tell that nothing ran."""

import os
from pathlib import Path


def touch(marker: str, **kwargs) -> None:
    Path(marker).write_text("ran")


class PickledCommand:
    """Unpickled with weights_only=False, `__reduce__` runs a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
