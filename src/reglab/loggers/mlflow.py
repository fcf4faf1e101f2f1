"""MLflow tracking (`logger=mlflow`): a local SQLite store under logs/mlflow by default, or the
server `logger.mlflow.tracking_uri` names. Params = the run's config, per-epoch metrics as
they come, the final metrics at the end."""

import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path

from lightning.pytorch.loggers import MLFlowLogger

from reglab.config import ConfigError

# What MLflow's client can track to (a file: store needs MLFLOW_ALLOW_FILE_STORE in MLflow 3)
SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks", "file")


def is_mlflow_node(entry) -> bool:
    """`entry`: a typed `logger` entry (reglab.app.outputs_config)."""
    return entry.target.endswith("MLFlowLogger")


def _local_store(uri: str) -> Path | None:
    """The folder of a local store (sqlite:///<path> or file:<path>), to create it first."""
    for prefix in ("sqlite:///", "file://", "file:"):
        if uri.startswith(prefix):
            path = Path(uri[len(prefix) :])
            return path.parent if prefix == "sqlite:///" else path
    return None


@contextlib.contextmanager
def store_lock(uri: str | None):
    """Held while a job opens the store: parallel jobs of a sweep (joblib) opening a fresh
    SQLite store at once both ran its schema migrations, and one failed (or left the store
    half-migrated). The first job creates and upgrades the store, the others wait and find
    it ready; the same lock serialises creating the experiment on a server. A lock file next
    to a local store, else in the temporary folder, keyed by the URI."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; jobs there run without it
        yield
        return
    store = uri[len("sqlite:///") :] if uri and uri.startswith("sqlite:///") else None
    if store:
        lock_path = Path(store + ".lock")
    else:
        key = hashlib.sha256(str(uri).encode()).hexdigest()[:16]
        lock_path = Path(tempfile.gettempdir()) / f"reglab-mlflow-{key}.lock"
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open(options: dict, attempts: int = 3) -> MLFlowLogger:
    """The logger with its experiment and run created. A race lost to a job on another
    machine (the experiment created in between) is retried."""
    for attempt in range(attempts):
        try:
            logger = MLFlowLogger(**options)
            _ = logger.experiment, logger.run_id
            return logger
        except Exception as exc:
            if attempt + 1 == attempts or "already exists" not in str(exc).lower():
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _bad_uri(uri: str, why: str) -> ConfigError:
    return ConfigError(
        f"logger.mlflow.tracking_uri={uri}: {why}. Fix: a local store "
        "(sqlite:///path/to/mlflow.db, the default under logs/mlflow) or a server "
        "(http://host:5000)"
    )


def build_mlflow_logger(options: dict, run_name: str, tags: list[str]) -> MLFlowLogger:
    options = {k: v for k, v in options.items() if not k.startswith("_")}
    uri = options.get("tracking_uri")
    scheme = uri.split(":", 1)[0] if uri and ":" in uri else ""
    if uri and scheme not in SCHEMES:
        raise _bad_uri(uri, f"unknown scheme {scheme!r}; MLflow takes {', '.join(SCHEMES)}")
    # a server that does not answer: a few seconds, not MLflow's minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    folder = _local_store(uri) if uri else None
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _bad_uri(uri, f"cannot create {folder} ({exc.strerror})") from None
    elif uri:  # a server keeps its own artifact store
        options["artifact_location"] = None
    options["run_name"] = options.get("run_name") or run_name
    # MLflow tags are key/value pairs: each tag is a key, and `tags` lists them all.
    run_tags = dict(options.get("tags") or {})
    if tags:
        run_tags.update({tag: "true" for tag in tags})
        run_tags["tags"] = ", ".join(tags)
    options["tags"] = run_tags or None
    try:  # the store is opened here, before training, so a bad one is one line now
        with store_lock(uri):
            logger = _open(options)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _bad_uri(uri, reason[:300]) from None
    return logger
