"""Compose a run config in Python, as `python train.py <overrides>` would (notebooks, tests)."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from reglab.config.resolvers import CONFIG_DIR, register_resolvers


def compose_config(
    overrides: list[str], output_dir: str | Path, config_name: str = "train"
) -> DictConfig:
    """The config for `overrides`, writing to `output_dir`; `reglab.app.job.run` accepts it
    (config_name="eval": `reglab.app.evaluate`)."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name,
            overrides=[*overrides, f"paths.output_dir={output_dir}"],
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)  # what `hydra.main` does for a real run
    return cfg
