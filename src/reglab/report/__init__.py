"""Sweep reports: gather the jobs of a multirun and draw them together.

`python -m reglab.report <sweep dir>` or, automatically, the Hydra callback at the end of
every multirun (configs/hydra/default.yaml).
"""

from reglab.report.build import build_report
from reglab.report.compare import compare_jobs
from reglab.report.jobs import Job, load_jobs

__all__ = ["Job", "build_report", "compare_jobs", "load_jobs"]
