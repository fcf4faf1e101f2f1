"""MLflow tracking (`logger=mlflow`): a local SQLite store under logs/mlflow by default, or the
server `logger.mlflow.tracking_uri` names. Params = the run's config, per-epoch metrics as
they come, the final metrics at the end."""

from pathlib import Path

from lightning.pytorch.loggers import MLFlowLogger


def is_mlflow_node(node) -> bool:
    return str(node.get("_target_", "")).endswith("MLFlowLogger")


def _local_store(uri: str) -> Path | None:
    """The folder of a local store (sqlite:///<path> or file:<path>), to create it first."""
    for prefix in ("sqlite:///", "file://", "file:"):
        if uri.startswith(prefix):
            path = Path(uri[len(prefix) :])
            return path.parent if prefix == "sqlite:///" else path
    return None


def build_mlflow_logger(options: dict, run_name: str, tags: list[str]) -> MLFlowLogger:
    options = {k: v for k, v in options.items() if not k.startswith("_")}
    uri = options.get("tracking_uri")
    folder = _local_store(uri) if uri else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    elif uri:  # a server keeps its own artifact store
        options["artifact_location"] = None
    options["run_name"] = options.get("run_name") or run_name
    # MLflow tags are key/value pairs: each tag is a key, and `tags` lists them all.
    run_tags = dict(options.get("tags") or {})
    if tags:
        run_tags.update({tag: "true" for tag in tags})
        run_tags["tags"] = ", ".join(tags)
    options["tags"] = run_tags or None
    return MLFlowLogger(**options)
