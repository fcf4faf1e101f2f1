"""Hydra callback: after a multirun, write the sweep's comparison into the sweep folder."""

import logging
import shlex
import sys
from pathlib import Path

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from reglab.report.elsewhere import build_elsewhere
        from reglab.report.jobs import load_jobs

        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = None
        try:
            written = build_elsewhere(sweep_dir)  # (a launcher's idle worker processes)
            if written is None:
                from reglab.report.build import build_report

                jobs = load_jobs(sweep_dir)  # once, for the report and the failure check
                written = build_report(sweep_dir, jobs)
        except Exception:  # a report must never turn a finished sweep into a failure
            log.exception("reglab: could not build the sweep report in %s", sweep_dir)
            written = []
        except KeyboardInterrupt:  # (Ctrl-C or SIGTERM) every job has ended: only the report
            log.warning(
                "Interrupted while writing the sweep report: every job had ended, their "
                "records are whole; `python -m reglab.report %s` writes the report again",
                sweep_dir,
            )
            sys.exit(1)
        for path in written:
            log.info("reglab: sweep report %s", path)
        jobs = load_jobs(sweep_dir, rows=False) if jobs is None else jobs
        if not jobs:  # (every job of a multirun leaves .hydra/overrides.yaml in its folder)
            log.warning(
                "reglab: no job folders in %s (none has .hydra/overrides.yaml): the jobs wrote "
                "elsewhere, or hydra.output_subdir=null; no sweep report",
                sweep_dir,
            )
        exit_if_jobs_failed(sweep_dir, jobs)


def exit_if_jobs_failed(sweep_dir: Path, jobs: list | None = None) -> None:
    """After the report: a sweep with failed jobs exits non-zero, so scripts and CI notice.
    (A diverged job is a result, not a failure.) `jobs`: the folder's, loaded already."""
    from reglab import contract
    from reglab.report.jobs import load_jobs

    jobs = load_jobs(sweep_dir, rows=False) if jobs is None else jobs
    failed = [job for job in jobs if job.status in (contract.FAILED, "missing")]
    if failed:
        names = ", ".join(job.path.name for job in failed[:10]) + (
            ", ..." if len(failed) > 10 else ""
        )
        again = rerun_command(sweep_dir)
        hint = f" To re-run only them (once fixed): {again}" if again else ""
        message = (
            f"{len(failed)} of {len(jobs)} jobs failed (jobs {names}): their metrics.json says "
            f"why; the report is in {sweep_dir}.{hint}"
        )
        log.error("%s", message)
        print(message, file=sys.stderr)
        sys.exit(1)


# hydra overrides a re-run must not repeat: -m says the mode; the sweep folder is given anew
NOT_REPEATED = ("hydra.mode=", "hydra.sweep.dir=", "resume=")


def rerun_command(sweep_dir: Path) -> str | None:
    """The command that runs the sweep again into `sweep_dir`, from the multirun.yaml Hydra
    saved there: the same overrides (Hydra's too: launcher, sweeper), the same config
    folders, `hydra.sweep.dir=<sweep_dir>` (a new folder would re-run every job) and
    `resume=true` (a job that crashed goes on from its last.ckpt). Its finished jobs are
    skipped, so only the failed ones run."""
    from reglab.run_folder import RunFolder

    path = RunFolder(sweep_dir).multirun_yaml
    try:
        hydra = (yaml.safe_load(path.read_text()) or {}).get("hydra") or {}
    except (OSError, yaml.YAMLError):
        return None
    overrides = hydra.get("overrides") or {}
    given = [*(overrides.get("hydra") or []), *(overrides.get("task") or [])]
    kept = [o for o in given if not o.lstrip("+~").startswith(NOT_REPEATED)]
    sources = (hydra.get("runtime") or {}).get("config_sources") or []
    folders = [
        ["--config-dir", s["path"]]
        for s in sources
        if s.get("provider") == "command-line" and s.get("schema") == "file"
    ]
    args = [
        "-m",
        *(a for pair in folders for a in pair),
        *kept,
        f"hydra.sweep.dir={sweep_dir.resolve()}",
        "resume=true",
    ]
    return "python train.py " + shlex.join(args)
