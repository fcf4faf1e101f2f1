"""The composed config as a tree: printed at the start of a run, saved as config_tree.log."""

import io
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.tree import Tree

from reglab.outputs.atomic import write_text
from reglab.run_folder import RunFolder

# The sections a reader looks at first, in this order; the rest follow alphabetically.
FIRST = (
    "task_name",
    "tags",
    "seed",
    "dataset",
    "model",
    "regularizer",
    "optimizer",
    "trainer",
    "hardware",
    "callbacks",
    "logger",
    "extras",
    "paths",
)


def config_tree(cfg: DictConfig | dict) -> Tree:
    """The tree of a config: a composed DictConfig, or the validated settings as a dict."""
    cfg = OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg
    tree = Tree("CONFIG", style="bold", guide_style="dim")
    keys = [k for k in FIRST if k in cfg] + sorted(k for k in cfg if k not in FIRST)
    for key in keys:
        if key == "hydra":
            continue
        value = cfg[key]
        text = OmegaConf.to_yaml(value, resolve=True) if OmegaConf.is_config(value) else str(value)
        tree.add(key, style="bold").add(Syntax(text, "yaml", theme="ansi_dark"))
    return tree


def print_config_tree(cfg: DictConfig | dict, output_dir: Path | None = None) -> Path | None:
    """Prints the tree; with `output_dir`, also writes it (plain text) to config_tree.log."""
    tree = config_tree(cfg)
    Console().print(tree)
    if output_dir is None:
        return None
    text = io.StringIO()
    Console(file=text, width=100, color_system=None, force_terminal=False).print(tree)
    return write_text(RunFolder(output_dir).config_tree_log, text.getvalue())  # never half
