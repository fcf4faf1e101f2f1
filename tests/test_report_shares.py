"""A sweep report drawn in shares (the stacked launcher's idle workers draw them side by side)
is the report built in one process; the launcher's side of it falls back or stops as a
report built here would."""

import logging
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hydra_plugins.reglab_stacked_launcher.stacked_launcher import StackedLauncher
from reglab.app.worker_pool import DONE, FAILED, LOST, Outcome
from reglab.report.build import COSTS, build_report, draw_share, shared_out
from reglab.report.jobs import load_jobs
from reglab.report.page import write_page

from .fake_sweeps import grid_sweep

NAMES = ["by_metric", "curves_by_config", "comparison", "fits", "weight_histograms", "weights"]


def test_each_drawing_has_one_share_and_the_costliest_are_apart():
    assert shared_out(NAMES, 1) == [0] * len(NAMES)
    owners = shared_out(NAMES, 2)
    assert set(owners) == {0, 1}
    assert owners[NAMES.index("weight_histograms")] != owners[NAMES.index("comparison")]
    loads = [
        sum(COSTS.get(n, 1.0) for n, o in zip(NAMES, owners, strict=True) if o == s) for s in (0, 1)
    ]
    assert max(loads) - min(loads) <= 1.0  # as even as whole drawings allow
    assert sorted(set(shared_out(NAMES, 9))) == list(range(len(NAMES)))  # more shares: one each


def test_a_report_drawn_in_two_shares_is_the_report_built_in_one(tmp_path):
    sweep = grid_sweep(tmp_path / "sweep", configs=3, seeds=2)
    whole = build_report(sweep)
    page = (sweep / "report.md").read_text()
    for path in whole:
        path.unlink()
    shares = [draw_share(sweep, 1, 2), draw_share(sweep, 0, 2)]  # either order
    assert not shares[0].summary and shares[1].summary  # the first share writes the summary
    assert set(shares[0].drawn).isdisjoint(shares[1].drawn)
    written = write_page(sweep, load_jobs(sweep, rows=False), shares)
    assert written == whole  # the same files, in the same order, report.md last
    assert all(path.is_file() for path in written)
    assert (sweep / "report.md").read_text() == page


class _Pool:
    """A worker pool whose units end as told."""

    def __init__(self, statuses: list[str] | None = None, stopped: int | None = None):
        self.statuses, self.stopped, self.closed, self.units = statuses or [], stopped, False, []

    def live_workers(self) -> int:
        return 2

    def run_units(self, units, replace=True, stopping=""):
        self.units = units
        assert replace is False  # a dead worker is not replaced to draw a report
        outcomes = [Outcome(s, error="Traceback ...\nValueError: boom") for s in self.statuses]
        return outcomes, self.stopped

    def close(self) -> None:
        self.closed = True


def _launcher(sweep: Path, pool: _Pool) -> StackedLauncher:
    launcher = StackedLauncher(n_jobs=2)
    launcher.config = OmegaConf.create(
        {"hydra": {"sweep": {"dir": str(sweep)}, "hydra_logging": None, "verbose": False}}
    )
    launcher._pool = pool
    return launcher


def test_the_launcher_builds_here_or_stops_as_a_report_built_here_would(tmp_path, caplog):
    sweep = tmp_path / "sweep"
    # another sweep's folder (a process that ran two sweeps): built there, not by these
    assert _launcher(sweep, _Pool([DONE, DONE]))._report_in_workers(tmp_path / "other") is None
    # a worker died: built here
    assert _launcher(sweep, _Pool([DONE, LOST]))._report_in_workers(sweep) is None
    # the report's own error: said (each share's), not repeated by building it here
    with caplog.at_level(logging.ERROR):
        assert _launcher(sweep, _Pool([FAILED, DONE]))._report_in_workers(sweep) == []
    assert "could not build the sweep report" in caplog.text and "ValueError: boom" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert _launcher(sweep, _Pool([FAILED, FAILED]))._report_in_workers(sweep) == []
    assert caplog.text.count("ValueError: boom") == 2
    # Ctrl-C while they draw: the workers end, KeyboardInterrupt as for a report built here
    pool = _Pool([DONE], stopped=2)
    with pytest.raises(KeyboardInterrupt):
        _launcher(sweep, pool)._report_in_workers(sweep)
    assert pool.closed
    # two shares for two workers, each knowing its place
    pool = _Pool([FAILED, FAILED])
    _launcher(sweep, pool)._report_in_workers(sweep)
    assert [(u.share, u.shares) for u in pool.units] == [(0, 2), (1, 2)]
