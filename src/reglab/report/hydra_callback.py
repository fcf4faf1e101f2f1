"""Hydra callback: after a multirun, write the sweep's comparison into the sweep folder."""

import logging
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
            return
        for path in written:
            log.info("reglab: sweep report %s", path)
