"""Compose a run config in Python, as `python train.py <overrides>` would (notebooks, tests)."""

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

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


def option(group: str, name: str) -> dict:
    """A group option's values as its file in configs/ writes them (after the options its own
    `defaults` list names, e.g. model/lenet_bn on model/lenet), interpolations unresolved.
    The option files hold the defaults: build a group's schema from them in Python, e.g.
    `MLPConfig(**option("model", "mlp") | {"hidden": [16, 8]})`."""
    own = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / group / f"{name}.yaml"))
    values: dict = {}
    for parent in own.pop("defaults", None) or []:
        if parent != "_self_":
            values |= option(group, parent)
    return values | own
