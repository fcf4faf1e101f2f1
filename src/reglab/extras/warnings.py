"""`extras.ignore_warnings`: silence library warnings and tips that say nothing about a run."""

import logging
import warnings

# (message regex, category): each one is known, understood, and harmless for reglab's runs.
KNOWN_WARNINGS = (
    # torch.utils._pytree deprecation raised from inside Lightning
    (r".*isinstance\(treespec, LeafSpec\).*", Warning),
    # tiny test and debug runs have fewer steps than the logging interval
    (r".*Set a lower value for log_every_n_steps.*", Warning),
    # reglab's data live in memory: there are no DataLoader workers to add
    (r".*does not have many workers.*", Warning),
    (r".*Consider setting `persistent_workers=True`.*", Warning),
    # a resumed run writes into its own checkpoints folder on purpose
    (r".*Checkpoint directory .* exists and is not empty.*", Warning),
    # hardware=cpu on a machine that has a GPU is a choice
    (r".*GPU available but not used.*", Warning),
    # SLURM detection when a job is started by hand on a cluster node
    (r".*The `srun` command is available on your system but is not used.*", Warning),
    # ckpt_path of a finished run, trained on in a new folder: the new run keeps its own best
    (r".*The dirpath has changed from.*", Warning),
    # SQLAlchemy deprecation inside MLflow's own store code
    (r".*``noload`` loader strategy is deprecated.*", Warning),
)


class _NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # reglab's checkpoints are its own: loading them fully is intended
        return "💡 Tip" not in message and "`weights_only` was not set" not in message


def silence_known_warnings() -> None:
    for message, category in KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name in (
        "lightning.pytorch.utilities.rank_zero",
        "lightning_utilities.core.rank_zero",
        "lightning.pytorch.trainer.connectors.checkpoint_connector",
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoTips) for f in logger.filters):
            logger.addFilter(_NoTips())
