"""`hydra/launcher=stacked`: Hydra's basic launcher, but the jobs whose configurations differ
only in values that change no shape and no code path (the seed, rates, penalty weights, the
learning rate: what the regularizers and the optimizer declare, reglab.replicas.packing) train
together, as stacked replicas in one pass (reglab.app.pack), in packs of at most
`hydra.launcher.max_pack`.

Each packed job still goes through Hydra's `run_job` (its folder and number, `.hydra/` files,
callbacks, the JobReturn a sweeper reads); its training is the pack's, and its return value is
set once the pack has trained. Jobs that fit no pack (another task than reglab's training, an
invalid config, `seeds=N`, what stacked replicas cannot do) run as the basic launcher runs
them, so `-m hydra/launcher=stacked` is never worse than the basic launcher.

With `hydra.launcher.n_jobs=k`, k worker processes run the packs and lone jobs side by side
(reglab.app.worker_pool), the machine's cores shared among them (hardware.threads by
default: cores // k each), longest units first; a pack that would leave a worker idle is
split. On a CPU, k small packs on one core each do more epochs a second than one pack on
every core (small matrix products scale poorly across threads).

The sweep's config loader becomes a reglab.config.sweep_compose.SweepComposer: Hydra composes
each kind of job once (not every job twice, ~0.1 s each), the others are copies of it.
"""

import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from reglab.config.resolvers import run_token
from reglab.report.elsewhere import report_elsewhere
from reglab.threads import available_cores

log = logging.getLogger(__name__)
# Hydra's default job log format: a packed job's train.log reads like a basic one's
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
# the most workers that draw a sweep report side by side (its costliest figure alone: ~half)
REPORT_SHARES = 2


@dataclass(frozen=True)
class Validated:
    """A job's settings as the launcher validated them to plan, and its Packing;
    `as_its_task`: its task validates the same (no chdir, no env_set), so it need not
    validate again."""

    settings: object  # reglab.app.settings.RunConfig (imported with the first job)
    packing: object  # reglab.replicas.packing.Packing
    as_its_task: bool


@dataclass
class StackedLauncherConf:
    _target_: str = "hydra_plugins.reglab_stacked_launcher.stacked_launcher.StackedLauncher"
    # the most jobs in one pack (null: reglab.replicas.packing.DEFAULT_MAX_PACK)
    max_pack: int | None = None
    # worker processes that run packs and lone jobs side by side (1: one after another, here)
    n_jobs: int = 1


ConfigStore.instance().store(group="hydra/launcher", name="stacked", node=StackedLauncherConf)


class StackedLauncher(Launcher):
    def __init__(self, max_pack: int | None = None, n_jobs: int = 1) -> None:
        super().__init__()
        if max_pack is not None and (isinstance(max_pack, bool) or max_pack < 1):
            raise ValueError(
                f"hydra.launcher.max_pack={max_pack}: the most jobs in one pack, a whole number "
                "of at least 1 (1: no packing), or null for the default"
            )
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
            raise ValueError(
                f"hydra.launcher.n_jobs={n_jobs}: the worker processes that run packs side by "
                "side, a whole number of at least 1 (1: one after another, in this process)"
            )
        self.max_pack = max_pack
        self.n_jobs = n_jobs
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None
        self._pool = None  # reglab.app.worker_pool.WorkerPool, kept for the next launch
        self._workers_usable: bool | None = None  # (None: not asked yet)

    def __getstate__(self) -> dict:  # what a worker gets: not the pool of its own kind
        return {k: v for k, v in self.__dict__.items() if k != "_pool"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _pool=None)

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from reglab.config.sweep_compose import compose_once

        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        compose_once(hydra_context)  # each kind of job composed once, the others copied

    # -- the plan -----------------------------------------------------------------------------
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int):
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        # the workers start first (one a core at most, until the plan says how many units):
        # they import torch and Lightning while the plan is composed
        pool = self._start_workers(
            min(self.n_jobs, len(job_overrides), available_cores()), sweep_dir
        )
        try:
            configs = []
            for offset, overrides in enumerate(job_overrides):
                idx = initial_job_idx + offset
                config = self.hydra_context.config_loader.load_sweep_config(
                    self.config, list(overrides)
                )
                with open_dict(config):
                    config.hydra.job.id = idx
                    config.hydra.job.num = idx
                configs.append(config)
            trains = getattr(self.task_function, "trains_packs", False)
            validated = [self._validated(config) if trains else None for config in configs]
            plan = self._plan(validated, job_overrides, initial_job_idx)
        except BaseException:
            self._close_workers()
            raise
        workers = min(self.n_jobs, len(plan))
        if workers > 1 and (pool := pool or self._start_workers(workers, sweep_dir)):
            return self._launch_in_workers(pool, workers, plan, configs, validated)
        self._close_workers()  # one unit: it runs here (the workers would take its cores)
        returns: list[JobReturn | None] = [None] * len(configs)
        for unit in plan:
            jobs = [(configs[i], validated[i]) for i in unit]
            for i, ret in zip(unit, self._run_unit(jobs, sweep_dir), strict=True):
                returns[i] = ret
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return returns

    def _plan(self, validated, job_overrides, first_idx) -> list[list[int]]:
        """Units in the order of their first job: [i] runs alone, [i, j, ...] is a pack."""
        from reglab.replicas.packing import DEFAULT_MAX_PACK, nearest_differences, split

        keys = [v.packing if v is not None else None for v in validated]
        groups: dict[str, list[int]] = {}
        units: list[list[int]] = []
        for i, packing in enumerate(keys):
            if packing is None or packing.key is None:
                units.append([i])
            elif packing.key in groups:
                groups[packing.key].append(i)
            else:
                groups[packing.key] = [i]
                units.append(groups[packing.key])
        max_pack = DEFAULT_MAX_PACK if self.max_pack is None else self.max_pack
        plan = [part for unit in units for part in split(unit, max_pack)]
        packed = {i for unit in plan if len(unit) > 1 for i in unit}
        plan = fill_workers(plan, min(self.n_jobs, available_cores()))
        packs = [unit for unit in plan if len(unit) > 1]
        alone = [unit[0] for unit in plan if len(unit) == 1]
        log.info(
            "Launching %d jobs: %d in %d packs trained stacked (%s), %d one by one",
            len(validated),
            sum(len(p) for p in packs),
            len(packs),
            ", ".join(str(len(p)) for p in packs) or "none",
            len(alone),
        )
        for i in alone:
            reason = keys[i].alone_because if keys[i] is not None else None
            if i in packed:
                reason = "split from its pack so that each worker of hydra.launcher.n_jobs has one"
            if reason is None and keys[i] is not None and keys[i].key is not None:
                # no other job shares its settings but for per-replica values: name what
                # separates it from the nearest one (a key no regularizer stacks per replica)
                others = [k.key for k in keys if k is not None and k.key is not None]
                if differing := nearest_differences(keys[i].key, others):
                    reason = f"differs from the others in {', '.join(differing)}"
            shown = " ".join(filter_overrides(job_overrides[i]))
            why = f" ({reason})" if reason else ""
            log.info("\t#%d : %s%s", first_idx + i, shown, why)
        for unit in packs:
            log.info("\tpack #%s", ", #".join(str(first_idx + i) for i in unit))
        return plan

    # -- side by side -------------------------------------------------------------------------
    def _start_workers(self, workers: int, sweep_dir: Path):
        """The pool of `workers` processes (the one kept from an earlier launch, grown); None
        where jobs run here: n_jobs=1, a single job, or a task a worker cannot import."""
        if workers < 2:
            return None
        if self._workers_usable is None:
            self._workers_usable = self._workers_can_run_it()
        if not self._workers_usable:
            return None
        if self._pool is not None:
            self._pool.grow(workers)
            return self._pool
        import atexit

        from hydra.core.singleton import Singleton

        from reglab.app.worker_pool import WorkerPool

        # Hydra's singletons but not OmegaConf's resolvers (local functions: they do not
        # pickle); a worker registers them as it imports reglab, its task and Hydra
        command = getattr(sys, "orig_argv", None)
        state = Singleton.get_state()["instances"]
        setup = partial(_worker_setup, state, command, run_token())
        run = partial(_run_in_worker, self, sweep_dir)
        log.info("Starting %d worker processes (kept for the sweep's later launches)", workers)
        self._pool = WorkerPool(workers, setup, run)
        atexit.register(self._close_workers)  # (before multiprocessing's, which would wait)
        report_elsewhere(self._report_in_workers)
        return self._pool

    def _close_workers(self) -> None:
        if self._pool is not None:
            report_elsewhere(None)
            self._pool.close()
            self._pool = None

    def _report_in_workers(self, sweep_dir: Path) -> list[Path] | None:
        """The sweep report, drawn by the idle workers side by side (reglab.report.build's
        shares): they have torch and matplotlib imported, which this process would import
        first (~2.5 s), and a report's figures take seconds one after another. This process
        writes report.md. Returns the files written; None where this process must build it
        (another sweep's folder, no workers, or a worker died). Ctrl-C / SIGTERM while they
        draw: KeyboardInterrupt, as for a report built here."""
        from reglab.app.worker_pool import DONE, FAILED
        from reglab.report.jobs import load_jobs
        from reglab.report.page import write_page

        ours = Path(str(self.config.hydra.sweep.dir)).resolve() == Path(sweep_dir).resolve()
        if self._pool is None or not ours:  # (another sweep of this process: built there)
            return None
        shares = min(self._pool.live_workers(), available_cores(), REPORT_SHARES)
        if shares < 1:
            return None
        processes = "processes" if shares > 1 else "process"
        log.info("Drawing the sweep report in %d worker %s", shares, processes)
        units = [_ReportShare(sweep_dir, share, shares) for share in range(shares)]
        stopping = "the workers stop drawing the sweep report"
        outcomes, stopped = self._pool.run_units(units, replace=False, stopping=stopping)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if stopped is not None:
            self._close_workers()
            raise KeyboardInterrupt
        failed = [o for o in outcomes if o is not None and o.status == FAILED]
        for outcome in failed:  # the report's own error: building it here would repeat it
            error = (outcome.error or "").strip()
            log.error("reglab: could not build the sweep report in %s:\n%s", sweep_dir, error)
        if failed:
            return []
        if any(o is None or o.status != DONE for o in outcomes):
            log.warning("A worker drawing the sweep report ended: the report is built here")
            return None
        jobs = load_jobs(sweep_dir, rows=False)
        return write_page(Path(sweep_dir), jobs, [o.value for o in outcomes]) if jobs else []

    def _launch_in_workers(self, pool, workers: int, plan, configs, validated) -> list[JobReturn]:
        """The plan's units in the pool's worker processes, longest first (a unit's jobs
        times their epochs); Ctrl-C / SIGTERM stops them as it stops one pack (reglab.app.
        worker_pool). A unit whose worker died leaves its jobs `failed`; the others go on."""
        from reglab.app.worker_pool import DONE, INTERRUPTED

        def cost(unit: list[int]) -> int:
            return sum(_epochs(validated[i]) for i in unit)

        order = sorted(range(len(plan)), key=lambda u: -cost(plan[u]))
        pool.resize(workers)
        # each unit with the number of workers that share the cores
        units = [(workers, [(configs[i], validated[i]) for i in plan[u]]) for u in order]
        log.info("Running %d units in %d worker processes, longest first", len(units), workers)
        returns: list[JobReturn | None] = [None] * len(configs)
        first_number = int(configs[0].hydra.job.num) if configs else 0

        def filed(index: int, outcome) -> None:  # as each unit ends
            jobs = plan[order[index]]
            if outcome.status == DONE:
                for i, ret in zip(jobs, outcome.value, strict=True):
                    returns[i] = ret
            elif outcome.status != INTERRUPTED:  # its worker died, or the unit raised
                numbers = ", #".join(str(first_number + i) for i in jobs)
                log.error("Jobs #%s failed (the sweep goes on): %s", numbers, outcome.error)
                for i in jobs:
                    returns[i] = _lost(configs[i], outcome.error)

        _, stopped = pool.run_units(units, on_outcome=filed)
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        if stopped is not None:
            self._close_workers()
            log.warning(
                "Interrupted (%s): the running jobs are written as of their last checkpoint; "
                "the same command again (same hydra.sweep.dir) continues them",
                "SIGTERM" if stopped == signal.SIGTERM else "Ctrl-C",
            )
            sys.exit(1)
        return returns

    def _workers_can_run_it(self) -> bool:
        """A worker gets the task function by reference: one it cannot import (a function
        defined in a script's `__main__` under @hydra.main) runs the jobs here instead."""
        import pickle

        try:
            pickle.dumps(self.task_function)
        except Exception as exc:  # pickle raises several kinds here
            log.warning(
                "hydra.launcher.n_jobs=%d: the task function cannot be sent to worker "
                "processes (%s); its jobs run one after another in this process",
                self.n_jobs,
                exc,
            )
            return False
        return True

    def _run_unit(self, unit: list[tuple[DictConfig, Validated | None]], sweep_dir: Path):
        """One unit of the plan: a lone job (as the basic launcher runs it) or a pack."""
        if len(unit) == 1:
            return [self._run(unit[0][0], self.task_function)]
        return self._run_pack(unit, sweep_dir)

    @staticmethod
    def _validated(config: DictConfig) -> Validated | None:
        """The job's validated settings and Packing (None: it does not validate; the basic
        path then reports why, as for any job). The config is resolved as run_job resolves
        it: its output folder set on it, as run_job sets it again."""
        from reglab.app.settings import validate_config
        from reglab.replicas.packing import packing

        saved = HydraConfig.instance().cfg
        try:
            HydraConfig.instance().set_config(config)  # (a copy of its hydra node)
            output_dir = _sweep_subdir(config)
            # on the config and on HydraConfig's copy, not a second copy (~15 ms a job)
            for node in (config, HydraConfig.instance().cfg):
                with read_write(node.hydra.runtime), open_dict(node.hydra.runtime):
                    node.hydra.runtime.output_dir = str(output_dir)
            task_config = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
            settings = validate_config(task_config)
            job_packing = packing(settings)
        except Exception:  # reported by the job itself, run alone
            return None
        finally:
            HydraConfig.instance().cfg = saved
        # run_job resolves the task's config in the job's folder and environment
        as_its_task = not config.hydra.job.chdir and not config.hydra.job.env_set
        return Validated(settings, job_packing, as_its_task)

    # -- running ------------------------------------------------------------------------------
    def _run(self, config: DictConfig, task_function: TaskFunction) -> JobReturn:
        return run_job(
            hydra_context=self.hydra_context,
            task_function=task_function,
            config=config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )

    def _run_pack(
        self, jobs_planned: list[tuple[DictConfig, Validated]], sweep_dir: Path
    ) -> list[JobReturn]:
        """Each job through run_job (folder, .hydra/, callbacks) registering itself, then the
        pack trains, then each JobReturn gets its job's value."""
        from reglab.app.pack import PackJob, train_pack
        from reglab.app.records import finished_record, optimized_value
        from reglab.replicas.checks import NotStackable

        configs = [config for config, _ in jobs_planned]
        jobs: dict[int, PackJob] = {}

        def register(i: int):
            def task(cfg: DictConfig):
                from reglab.app.job_info import JobInfo
                from reglab.app.settings import validate_config

                planned = jobs_planned[i][1]
                job = JobInfo.from_hydra()
                settings = planned.settings if planned.as_its_task else validate_config(cfg)
                output_dir = Path(settings.paths.output_dir)
                done = finished_record(output_dir, job.overrides)
                if done is not None:  # a resumed sweep: this job is done
                    log.info("Already finished in %s: skipped (resumed sweep)", output_dir)
                    return optimized_value(done, settings.optimized_metric, True)
                jobs[i] = PackJob(settings, job)
                return None

            return task

        returns = [self._run(config, register(i)) for i, config in enumerate(configs)]
        order = sorted(jobs)
        if not order:
            return returns
        members = [jobs[i] for i in order]
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        handlers = _job_logs([Path(m.settings.paths.output_dir) for m in members])
        failure: BaseException | None = None
        from reglab.app import signals

        try:
            with signals.interruption_kept():
                records, interrupted = train_pack(members, sweep_dir)
        except KeyboardInterrupt as exc:  # while the pack loaded its data: nothing trained
            from reglab.app.records import record_interrupted

            signals.shield()
            for member in members:
                record_interrupted(Path(member.settings.paths.output_dir), member.job.overrides)
            log.warning(
                "Interrupted (%s) before the pack's first epoch: nothing was trained; the same "
                "command again (same hydra.sweep.dir) trains it",
                signals.describe(exc),
            )
            sys.exit(1)
        except NotStackable as exc:  # found once the model is built: nothing trained yet
            failure = exc
        except Exception as exc:  # every job of the pack failed with it: the sweep goes on
            failure = exc
            _record_failures(members, exc)
        finally:
            for handler in handlers:
                logging.getLogger().removeHandler(handler)
                handler.close()
        if isinstance(failure, NotStackable):
            log.info("Not stacked: %s; its jobs run one by one", failure)
            for i in order:
                returns[i] = self._run(configs[i], self.task_function)
            return returns
        if failure is not None:
            for i in order:
                returns[i].return_value = None
            return returns
        for i, member, record in zip(order, members, records, strict=True):
            value = optimized_value(record, member.settings.optimized_metric, True)
            returns[i].return_value = value
        if interrupted is not None:
            from reglab.app import signals

            log.warning(
                "Interrupted (%s): the pack's jobs are written as of its last checkpoint; "
                "the same command again (same hydra.sweep.dir) continues them",
                signals.describe(interrupted),
            )
            sys.exit(1)
        return returns


def fill_workers(plan: list[list[int]], workers: int) -> list[list[int]]:
    """Packs split in halves (the largest first) until every worker has a unit: one pack on
    each of k cores beats one pack on k cores (see the module's doc). (Called with the
    workers that have a core each: more would only share the cores.)"""
    plan = [list(unit) for unit in plan]
    while len(plan) < workers:
        largest = max(plan, key=len)
        if len(largest) < 2:
            break
        at = plan.index(largest)
        half = (len(largest) + 1) // 2
        plan[at : at + 1] = [largest[:half], largest[half:]]
    return plan


def _epochs(validated: Validated | None) -> int:
    """A job's epochs, for the order of the units (a job that did not validate: 1)."""
    if validated is None:
        return 1
    return validated.settings.trainer.max_epochs


def _worker_setup(singletons: dict, command: list[str] | None, token: str) -> None:
    """A worker's start: Hydra's state as the launcher's, the sweep's command line as its
    own (each record's provenance names the user's command) and the launcher's run token
    (a default sweep folder's name: one folder, not one a process)."""
    from hydra.core.singleton import Singleton
    from omegaconf.basecontainer import BaseContainer

    from reglab.config.resolvers import register_resolvers, use_run_token

    setup_globals()
    register_resolvers()
    use_run_token(token)
    Singleton.set_state({"instances": singletons, "omegaconf_resolvers": BaseContainer._resolvers})
    if command is not None:
        sys.orig_argv = command


@dataclass(frozen=True)
class _ReportShare:
    """A worker's task: its share of the sweep report's figures (reglab.report.build)."""

    sweep_dir: Path
    share: int
    shares: int

    def draw(self):
        from reglab.report.build import draw_share

        return draw_share(self.sweep_dir, self.share, self.shares)


def _run_in_worker(launcher: "StackedLauncher", sweep_dir: Path, task) -> object:
    """A unit in a worker, on its share of the cores (`task`: (workers at once, unit)), or
    a share of the sweep report (`task`: a _ReportShare)."""
    from reglab.threads import share_cores_with

    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    if isinstance(task, _ReportShare):
        return task.draw()
    workers, unit = task
    share_cores_with(workers)
    return launcher._run_unit(unit, sweep_dir)


def _output_dir(config: DictConfig) -> Path:
    """A job's folder, as run_job names it."""
    saved = HydraConfig.instance().cfg
    try:
        HydraConfig.instance().set_config(config)
        return _sweep_subdir(config)
    finally:
        HydraConfig.instance().cfg = saved


def _sweep_subdir(config: DictConfig) -> Path:
    """A job's folder, as run_job names it, HydraConfig set to its config (the folder's
    name may interpolate `${hydra:...}`)."""
    sweep = config.hydra.sweep
    return Path(os.path.abspath(os.path.join(str(sweep.dir), str(sweep.subdir))))


def _lost(config: DictConfig, error: str) -> JobReturn:
    """A job whose worker died or failed: its record says so (a completed one is kept), and
    the sweep goes on with it as a failed job (no value), as with a job that crashed."""
    from hydra.core.utils import JobStatus

    from reglab.app.records import record_lost

    overrides = list(config.hydra.overrides.task)
    output_dir = _output_dir(config)
    record_lost(output_dir, overrides, error.strip().splitlines()[-1] if error else "lost")
    task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
    return JobReturn(
        overrides=overrides,
        cfg=task,
        hydra_cfg=config,
        working_dir=str(output_dir),
        task_name=str(config.hydra.job.name),
        status=JobStatus.COMPLETED,
        _return_value=None,
    )


def _job_logs(folders: list[Path]) -> list[logging.Handler]:
    """The pack's log lines go to each of its jobs' train.log."""
    from reglab.run_folder import RunFolder

    handlers = []
    for folder in folders:
        handler = logging.FileHandler(RunFolder(folder).train_log)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(handler)
        handlers.append(handler)
    return handlers


def _record_failures(members, exc: BaseException) -> None:
    from reglab.app.records import record_failure
    from reglab.config.errors import ConfigError
    from reglab.data.errors import DatasetError

    if isinstance(exc, ConfigError | DatasetError):
        log.error("%s", exc)
    else:
        log.exception("The pack failed; the sweep goes on")
    for member in members:
        record_failure(Path(member.settings.paths.output_dir), member.job.overrides, exc)
