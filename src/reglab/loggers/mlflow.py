"""MLflow tracking (`logger=mlflow`): a local SQLite store under logs/mlflow by default, or the
server `logger.mlflow.tracking_uri` names. Params = the run's config, per-epoch metrics as
they come, the final metrics at the end."""

import os
from pathlib import Path

from lightning.pytorch.loggers import MLFlowLogger

from reglab.config import ConfigError

# What MLflow's client can track to (a file: store needs MLFLOW_ALLOW_FILE_STORE in MLflow 3)
SCHEMES = ("sqlite", "http", "https", "postgresql", "mysql", "mssql", "databricks", "file")


def is_mlflow_node(node) -> bool:
    return str(node.get("_target_", "")).endswith("MLFlowLogger")


def _local_store(uri: str) -> Path | None:
    """The folder of a local store (sqlite:///<path> or file:<path>), to create it first."""
    for prefix in ("sqlite:///", "file://", "file:"):
        if uri.startswith(prefix):
            path = Path(uri[len(prefix) :])
            return path.parent if prefix == "sqlite:///" else path
    return None


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
        logger = MLFlowLogger(**options)
        _ = logger.experiment, logger.run_id
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _bad_uri(uri, reason[:300]) from None
    return logger
