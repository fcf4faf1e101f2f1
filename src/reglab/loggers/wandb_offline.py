"""Reads back what an offline W&B run wrote (`run-<id>.wandb`), without a W&B server.

wandb ships the reader: `wandb leet inspect --json <run>` prints each record of the run's
transaction log as one JSON line (run, config, history, summary, artifact, ...). This wraps
it; reglab parses no protobufs itself. The command joins the path of a nested value (a
histogram, a table) with dots (`hist/weights/layers.1.bins`); every such W&B value has a
`_type` leaf, which tells where its path ends, so it is rebuilt as one dict.
"""

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


class WandbLogFormatError(ValueError):
    pass


@dataclass
class OfflineRun:
    run_id: str = ""
    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    # one entry per logged artifact version: name, type, aliases, metadata, files
    artifacts: list[dict] = field(default_factory=list)
    exit_code: int | None = None  # None: the run never finished (killed)


def read_records(path: str | Path) -> list[dict]:
    """Every record of an offline run (a `run-<id>.wandb` file or the folder holding one)."""
    result = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise WandbLogFormatError(f"wandb leet inspect {path}: {result.stderr.strip()}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _nest(items: dict) -> dict:
    """`{"h.1._type": "histogram", "h.1.bins": [...]}` -> `{"h.1": {"_type": ..., "bins": ...}}`."""
    roots = sorted((k[: -len("._type")] for k in items if k.endswith("._type")), key=len)
    out = dict(items)
    for root in reversed(roots):  # the deepest first: a table inside a dict stays whole
        prefix = root + "."
        value = {k[len(prefix) :]: out.pop(k) for k in list(out) if k.startswith(prefix)}
        if value:
            out[root] = value
    return out


def _artifact(record: dict) -> dict:
    metadata = record.get("metadata") or "{}"
    return {
        "name": record.get("name", ""),
        "type": record.get("type", ""),
        "aliases": list(record.get("aliases", [])),
        "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata,
        "files": [
            {"path": c.get("path"), "size": int(c.get("size", 0))}
            for c in (record.get("manifest") or {}).get("contents", [])
        ],
    }


def _finished_records(path: Path, wait_s: float = 30.0) -> list[dict]:
    """The records once the run's `exit` record is on disk. wandb-core writes the file from
    its own process, and `wandb.finish()` can return before the last block is written (seen
    on a loaded machine: a run without its name); a killed run never gets one, so after
    `wait_s` what is there is returned."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            records = read_records(path)
        except WandbLogFormatError:
            if time.monotonic() > deadline:
                raise
            records = []
        if any(r.get("type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


def read_offline_run(path: str | Path) -> OfflineRun:
    """Parses a `run-<id>.wandb` file, or the offline-run folder that holds one."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("run-*.wandb"))
        if not found:  # a run killed while W&B started it
            raise WandbLogFormatError(f"{path}: no run-*.wandb file (the run never started)")
        path = found[0]
    run = OfflineRun()
    for record in _finished_records(path):
        kind = record.get("type")
        body = record.get(kind) or {}
        if kind == "run":
            run.run_id = body.get("run_id", "")
            run.name = body.get("display_name", "")
            run.group = body.get("run_group", "")
            run.job_type = body.get("job_type", "")
            run.tags = list(body.get("tags", []))
            run.config.update((body.get("config") or {}).get("update", {}))
        elif kind == "config":
            run.config.update(body.get("update", {}))
        elif kind == "history":
            run.history.append(_nest(body.get("item", {})))
        elif kind == "summary":
            run.summary.update(_nest(body.get("update", {})))
        elif kind == "artifact":
            run.artifacts.append(_artifact(body))
        elif kind == "exit":
            run.exit_code = int(body.get("exit_code", 0))
    return run
