"""`--help`: the config groups and their options, read from the config folders.

Hydra's own `--help` composes the config once per group option to list them (169 times
here, each copying the whole config repository): seconds, longer than importing torch. The
folders hold the same list, read in milliseconds. The composed config is one flag away
(`--cfg job`), and Hydra's flags are under `--hydra-help`.
"""

from pathlib import Path

from reglab.config.resolvers import CONFIG_DIR

USAGE = {
    "train": (
        "reglab-train / python train.py: train and test one configuration (-m: a sweep).",
        [
            "python train.py regularizer=dropout model=mlp",
            "python train.py regularizer=[dropout,weight_decay] regularizer.weight_decay=1e-3",
            "python train.py -m regularizer=none,dropout seed=0,1,2",
            "python train.py --config-dir my_configs model=my_net    (your own model)",
        ],
    ),
    "eval": (
        "reglab-eval / python eval.py: evaluate a checkpoint in a run folder of its own.",
        [
            "python eval.py ckpt_path=logs/train/runs/<run>/checkpoints/best.ckpt",
            "python eval.py ckpt_path=... split=val",
        ],
    ),
}


def config_dirs(argv: list[str]) -> list[Path]:
    """reglab's config folder and those added with --config-dir / -cd."""
    dirs = []
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
    return [*dirs, CONFIG_DIR]


def group_options(dirs: list[Path]) -> dict[str, list[str]]:
    """{group: [options]}: every folder holding yaml files is a group, its files the options."""
    groups: dict[str, set[str]] = {}
    for root in dirs:
        for path in root.rglob("*.yaml"):
            group = path.parent.relative_to(root).as_posix()
            if group != ".":
                groups.setdefault(group, set()).add(path.stem)
    return {group: sorted(groups[group]) for group in sorted(groups)}


# eval.py's own keys, and the groups its config composes (configs/eval.yaml)
EVAL_KEYS = (
    "ckpt_path: the checkpoint to evaluate (required)",
    "split: test (default) | val",
)
EVAL_GROUPS = ("hardware", "paths", "extras")


def help_text(entry: str, argv: list[str]) -> str:
    title, examples = USAGE[entry]
    if entry == "eval":
        lines = [title, "", "== Keys ==", *EVAL_KEYS, "", "== Config groups (group=option) =="]
    else:
        lines = [title, "", "== Config groups (group=option) =="]
    for group, options in group_options(config_dirs(argv)).items():
        if group == "hydra" or group.startswith("hydra/"):  # Hydra's: below
            continue
        if entry == "train" or group in EVAL_GROUPS:
            lines.append(f"{group}: {', '.join(options)}")
    if entry == "train":
        lines.append("hydra/launcher: basic, joblib, slurm, submitit_local, ray  (Hydra's plugins)")
    lines += ["", "== Examples ==", *(f"  {e}" for e in examples), ""]
    lines += [
        "The composed config, with any overrides:  --cfg job   (--cfg all: with Hydra's)",
        "Hydra's own flags (-m, --config-dir, --info, ...):  --hydra-help",
    ]
    return "\n".join(lines)


def wants_help(argv: list[str]) -> bool:
    return "--help" in argv or "-h" in argv
