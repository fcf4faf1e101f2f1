"""Compose a run config in Python, as `python train.py <overrides>` would (notebooks, tests)."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from reglab.config.resolvers import CONFIG_DIR, register_resolvers


def compose_config(
    overrides: list[str], output_dir: str | Path | None = None, config_name: str = "train"
) -> DictConfig:
    """The config for `overrides`, writing to `output_dir` (None: a new folder in the logs
    folder, where `python train.py` would put the run); `reglab.app.job.run` accepts it
    (config_name="eval": `reglab.app.evaluate`)."""
    register_resolvers()
    GlobalHydra.instance().clear()
    where = [] if output_dir is None else [f"paths.output_dir={output_dir}"]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name, overrides=[*overrides, *where], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # what `hydra.main` does for a real run
    if output_dir is None:  # hydra.run.dir: the logs folder's new run folder
        cfg.paths.output_dir = str(cfg.hydra.run.dir)
    return cfg
