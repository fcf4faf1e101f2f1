"""Hydra callback: after a multirun, write the sweep's comparison into the sweep folder."""

import logging
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepReport(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from reglab.report.build import build_report

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            written = build_report(sweep_dir)
        except Exception:  # a report must never turn a finished sweep into a failure
            log.exception("reglab: could not build the sweep report in %s", sweep_dir)
            written = []
        for path in written:
            log.info("reglab: sweep report %s", path)
        exit_if_jobs_failed(sweep_dir)


def exit_if_jobs_failed(sweep_dir: Path) -> None:
    """After the report: a sweep with failed jobs exits non-zero, so scripts and CI notice.
    (A diverged job is a result, not a failure.)"""
    from reglab.report.jobs import load_jobs

    jobs = load_jobs(sweep_dir)
    failed = [job for job in jobs if job.status in ("failed", "missing")]
    if failed:
        names = ", ".join(job.path.name for job in failed[:10]) + (
            ", ..." if len(failed) > 10 else ""
        )
        message = (
            f"{len(failed)} of {len(jobs)} jobs failed (jobs {names}): their metrics.json says "
            f"why; the report is in {sweep_dir}. Re-running the same command re-runs only them."
        )
        log.error("%s", message)
        print(message, file=sys.stderr)
        sys.exit(1)
