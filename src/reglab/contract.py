"""The run folder's contract: what a run leaves where, and the names every part agrees on.

Training writes these files, resume reads them back, callbacks fill them in, the sweep report
and the evaluation read them: all through reglab.run_folder.RunFolder, which builds every path
from the names below, so a name changes in one place (tests/test_run_folder_literals.py checks
that no other module spells one). Torch-free.

    <run>/metrics.json          the record: status, final metrics, choices, overrides, ...
    <run>/metrics.csv           one row per epoch
    <run>/checkpoints/best.ckpt the best epoch by the task's monitor
    <run>/checkpoints/last.ckpt the latest epoch (what resume continues from)
    <run>/checkpoints/on_exception.ckpt  the weights when a run was interrupted or crashed
    <run>/fit.json, weights.json  the regression fit and weights (callbacks.artifacts)
    <run>/wandb_id              the W&B run a resumed run continues
    <run>/.hydra/overrides.yaml what Hydra recorded of the command line
    <run>/seed_<k>/             a seeds=N run's replica k: a run folder of its own
"""

METRICS_JSON = "metrics.json"
METRICS_CSV = "metrics.csv"
CHECKPOINTS = "checkpoints"
BEST = "best"  # checkpoint file stems (and test_ckpt's values)
LAST = "last"
ON_EXCEPTION = "on_exception"
CKPT_SUFFIX = ".ckpt"
FIT_JSON = "fit.json"
WEIGHTS_JSON = "weights.json"
WANDB_ID = "wandb_id"
CURVES_PNG = "curves.png"
PER_CLASS_CSV = "per_class_accuracy.csv"
HYDRA_DIR = ".hydra"
OVERRIDES_YAML = "overrides.yaml"
CONFIG_YAML = "config.yaml"
HYDRA_YAML = "hydra.yaml"
# what Hydra writes into a run's folder before the run starts (hydra/default.yaml names the log)
HYDRA_FILES = (CONFIG_YAML, HYDRA_YAML, OVERRIDES_YAML)
TRAIN_LOG = "train.log"
CONFIG_TREE_LOG = "config_tree.log"
# held (flock) by the one process writing the run; holds its pid
LOCK = ".reglab.lock"
# what Hydra writes into a sweep folder: the sweep's own overrides
MULTIRUN_YAML = "multirun.yaml"
# a seeds=N run's replica folders: seed_<k>
REPLICA_PREFIX = "seed_"
# a sweep folder's packs of jobs trained together (hydra/launcher=stacked): their own state
PACKS_DIR = ".packs"

# Where a run stands (metrics.json's "status").
COMPLETED, FAILED, INTERRUPTED, DIVERGED = "completed", "failed", "interrupted", "diverged"
STATUSES = (COMPLETED, FAILED, INTERRUPTED, DIVERGED)
# A run that ended with a result: its folder is never written again (resume refuses it;
# training on from its weights writes a new folder).
FINAL = (COMPLETED, DIVERGED)

# The config groups whose chosen option names a run (metrics.json's "choices").
CHOICE_GROUPS = (
    "dataset",
    "model",
    "regularizer",
    "optimizer",
    "hardware",
    "experiment",
    "protocol",
)
# The groups in a run's name: mlp-dropout-fashion_mnist.
NAME_GROUPS = ("model", "regularizer", "dataset")

# Metric keys: <stage>/<name>; the monitor's best so far is <monitor>_best.
STAGES = ("train", "val", "test")
BEST_SUFFIX = "_best"
# What every run logs per epoch besides the task's own metrics (reglab.lit.module).
TRAIN_EXTRAS = ("penalty", "w_norm", "lr", "loss_max")


def monitor_best_key(record: dict) -> str | None:
    """The monitor's best-so-far key a run recorded (val/acc_best; test/acc_best where the
    per-epoch evaluation is the test set): what a sweeper optimises by default."""
    bests = [k for k in record if k.endswith(BEST_SUFFIX) and k.split("/")[0] in ("val", "test")]
    return min(bests, key=lambda k: not k.startswith("val/"), default=None)


# Per-layer and per-class series of the instruments (callbacks=instruments).
INSTRUMENT_PREFIXES = ("weights/norm/", "act/", "test/class_acc/")


# Overrides that say how a run starts, not what it is: a resumed run is the same run.
RESUME_KEYS = ("resume", "ckpt_path")


def is_resume_override(override: str) -> bool:
    """`resume=...` and `ckpt_path=...` say how a run starts, not what it is."""
    return override.lstrip("+~").split("=", 1)[0] in RESUME_KEYS


def defining_overrides(overrides: list[str]) -> list[str]:
    """The overrides that define a run, in their order (without resume=/ckpt_path=)."""
    return [o for o in overrides if not is_resume_override(o)]
