"""Sweep reports: gather the jobs of a multirun and draw them together.

`python -m reglab.report <sweep dir>` (reglab-report) or, automatically, the Hydra callback at
the end of every multirun (configs/hydra/default.yaml). `build.build_report` writes them all;
`jobs.load_jobs` reads a sweep's job folders. Light on purpose: Hydra imports the callback at
every start-up.
"""
