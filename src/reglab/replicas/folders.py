"""Each replica's job folder: what a job of a multirun with `seed=k` would write.

<output_dir>/seed_<k>/ holds .hydra/overrides.yaml (the run's overrides with `seed=k` for
`seeds=N`) and .hydra/config.yaml, metrics.json, metrics.csv, curves.png and checkpoints/.
The run's own folder keeps a metrics.json whose `replicas` lists them; the sweep report
(`RunFolder.replicas`) reads the replica folders in its place, so `seeds=5` and `seed=range(5)`
give the same summary. Torch-free: the report imports this module.
"""

from pathlib import Path

from reglab.run_folder import RunFolder

SEEDS_PREFIXES = ("seeds=", "+seeds=", "++seeds=")
SEED_PREFIXES = ("seed=", "+seed=", "++seed=")


def replica_overrides(overrides: list[str], seed: int) -> list[str]:
    """The overrides of the equivalent single run: without `seeds=`, with `seed=<seed>`."""
    kept = [o for o in overrides if not o.startswith(SEEDS_PREFIXES + SEED_PREFIXES)]
    return [*kept, f"seed={seed}"]


def job_order(path: Path) -> tuple:
    """Sweep jobs in job-number order (0, 1, ..., 10: numerically), a replica with its job,
    in seed order; folders not named by a number after them, by name."""
    seed = RunFolder(path).replica_seed
    job = path.parent if seed is not None else path
    number = int(job.name) if job.name.isdigit() else 0
    return (not job.name.isdigit(), number, job.name, -1 if seed is None else seed)
