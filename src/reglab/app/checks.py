"""Checks that need more than the schema: what the machine has, and the metric names the
task logs. They run after the config is validated and before anything is created, so a
monitor that names no metric stops the run before its first epoch, not after it."""

import difflib

from reglab.config.errors import ConfigError
from reglab.contract import BEST, BEST_SUFFIX, INSTRUMENT_PREFIXES, LAST, TRAIN_EXTRAS


def tests_a_checkpoint(test_ckpt: str, val_is_test: bool) -> bool:
    """Whether the test reads a checkpoint (the best one, where there is one) rather than the
    weights in memory (the last): `test_ckpt=last`, or `auto` where the validation split is
    the test split (choosing a "best" there would select on test data), read the last."""
    return not (test_ckpt == LAST or (test_ckpt == "auto" and val_is_test))


def has_validation_split(dataset) -> bool:
    """`dataset.val_size=0` holds nothing out: no validation loop, no "best" checkpoint."""
    return getattr(dataset, "val_size", None) != 0


def logged_metrics(task, validation: bool = True) -> list[str]:
    """The epoch metrics a run of `task` logs: what a monitor can watch."""
    names = ["loss", *(task.metrics() or {})]
    logged = [f"train/{n}" for n in names] + [f"train/{n}" for n in TRAIN_EXTRAS]
    if validation:
        stage = task.epoch_stage  # val, or test where the test set is evaluated every epoch
        logged += [f"{stage}/{n}" for n in names] + [f"{task.monitor}{BEST_SUFFIX}"]
    return logged


def _unknown(key: str, value: str, known: list[str], prefixes: tuple[str, ...] = ()) -> str:
    guess = difflib.get_close_matches(value, known, n=1)
    hint = f"did you mean {guess[0]}? " if guess else ""
    as_test = "test/" + value.partition("/")[2]
    if value.startswith("val/") and as_test in known:  # protocol=d2l: no validation split
        hint = (
            f"there is no validation split: the test set is evaluated every epoch, as {as_test}; "
        )
    more = f" (or a name starting with {', '.join(prefixes)})" if prefixes else ""
    return (
        f"{key}={value}: not a metric this run logs; {hint}choose one of: {', '.join(known)}{more}"
    )


def check_monitors(settings, task, val_is_test: bool = False) -> None:
    """Early stopping, checkpoint monitors and `optimized_metric` must name a logged metric."""
    validation = has_validation_split(settings.dataset)
    known = logged_metrics(task, validation)
    problems = []
    stopping = settings.regularizer.early_stopping
    if stopping is not None and stopping.monitor not in known:
        if stopping.monitor.startswith("val/") and not validation:
            problems.append(
                f"regularizer.early_stopping.monitor={stopping.monitor}: there is no validation "
                "split (dataset.val_size=0); monitor a train/ metric or set dataset.val_size"
            )
        else:
            problems.append(_unknown("regularizer.early_stopping.monitor", stopping.monitor, known))
    entries = settings.callbacks.entries() if settings.callbacks is not None else {}
    for name, entry in entries.items():
        monitor = entry.monitored() if entry is not None else None
        if (
            monitor is not None
            and monitor not in known
            and not monitor.startswith(INSTRUMENT_PREFIXES)
        ):
            problems.append(_unknown(f"callbacks.{name}.monitor", monitor, known))
    metric = settings.optimized_metric
    final = [*known, "test/loss", *(f"test/{n}" for n in task.metrics() or {}), "epochs"]
    if metric is not None and metric not in final and not metric.startswith(INSTRUMENT_PREFIXES):
        problems.append(_unknown("optimized_metric", metric, final, INSTRUMENT_PREFIXES))
    if settings.test_ckpt == BEST and not validation:
        problems.append(
            "test_ckpt=best: there is no validation split (dataset.val_size=0) to choose a best "
            "checkpoint by; use test_ckpt=last or set dataset.val_size"
        )
    if settings.test_ckpt == BEST and validation and val_is_test:
        problems.append(
            f"test_ckpt=best: {settings.dataset.label}'s validation split is its test split "
            "(as in d2l), so a best checkpoint would be chosen on test data; use test_ckpt=last "
            "(or auto)"
        )
    if problems:
        raise ConfigError("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def check_hardware(hardware) -> None:
    """A GPU asked for on a machine without one: say so before Lightning does, in a wrapper."""
    import torch  # only once the config is valid: validation stays torch-free

    accelerator = hardware.accelerator
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"hardware={hardware.name}: no GPU found (CUDA is not available on this machine). "
            "Fix: hardware=auto (a GPU when there is one, else the CPU) or hardware=cpu"
        )
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f"hardware={hardware.name}: no Apple GPU (MPS) found on this machine. "
            "Fix: hardware=auto or hardware=cpu"
        )
    wanted = hardware.devices
    if accelerator in ("gpu", "cuda") and isinstance(wanted, int):
        found = torch.cuda.device_count()
        if wanted > found:
            raise ConfigError(
                f"hardware.devices={wanted}: this machine has {found} GPU(s). "
                f"Fix: hardware.devices={found} or hardware.devices=auto"
            )
