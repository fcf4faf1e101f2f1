"""CPU threads per process: each process gets its share of the machine's cores.

torch uses every core by default. Two processes that both do (parallel jobs of a joblib
multirun, the ranks of `hardware=ddp_cpu`) fight over the cores and both slow down, badly
on a busy machine. `hardware.threads` sets the number; by default it is the cores this
process may use divided among the processes that share them. An OMP_NUM_THREADS set
by the user is respected.
"""

import logging
import os

log = logging.getLogger("reglab")
_USER_THREADS = os.environ.get("OMP_NUM_THREADS")  # as the user started us
_workers: list[int] = []  # set in a stacked launcher's worker: the workers running at once


def share_cores_with(workers: int) -> None:
    """This process is one of `workers` launcher workers running jobs at once
    (hydra/launcher=stacked with n_jobs: reglab.app.worker_pool)."""
    _workers[:] = [workers]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def parallel_jobs() -> int:
    """How many jobs (or packs) the launcher runs at once on this machine (joblib's n_jobs,
    the stacked launcher's workers), else 1."""
    from hydra.core.hydra_config import HydraConfig

    if _workers:
        return _workers[0]
    if not HydraConfig.initialized():
        return 1
    launcher = HydraConfig.get().get("launcher") or {}
    if "joblib" not in str(launcher.get("_target_", "")).lower():
        return 1
    n_jobs = launcher.get("n_jobs") or 1
    return available_cores() if n_jobs < 0 else int(n_jobs)


def threads_per_process(threads: int | None, processes_per_job: int) -> int:
    if threads is not None:
        return threads
    return max(1, available_cores() // max(1, parallel_jobs() * processes_per_job))


def configure_threads(threads: int | None, processes_per_job: int = 1) -> int | None:
    """Sets torch's threads (and OMP_NUM_THREADS, which spawned DDP ranks inherit)."""
    if threads is None and _USER_THREADS:
        return None
    import torch  # (here: the stacked launcher's process counts cores without torch)

    n = threads_per_process(threads, processes_per_job)
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)
    log.debug("torch threads per process: %d", n)
    return n
