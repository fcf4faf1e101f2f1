"""reglab.app.worker_pool: units run in spawned worker processes; a unit that fails or whose
worker dies fails alone; Ctrl-C / SIGTERM to the launcher reaches each running unit once and
nothing more starts."""

import os
import signal
import threading
import time
from functools import partial
from pathlib import Path

import pytest

from reglab.app.worker_pool import DONE, FAILED, INTERRUPTED, LOST, WorkerPool, run_units

from . import pool_tasks


def test_units_run_in_workers_and_come_back_in_order():
    units = [f"u{i}" for i in range(5)]
    outcomes, stopped = run_units(units, 2, partial(pool_tasks.setup, "tag"), pool_tasks.report)
    assert stopped is None
    assert [o.status for o in outcomes] == [DONE] * 5
    assert [o.value[0] for o in outcomes] == units
    assert all(o.value[2] == ["tag"] for o in outcomes)  # each worker set up once
    pids = {o.value[1] for o in outcomes}
    assert len(pids) == 2 and os.getpid() not in pids


def test_a_unit_that_raises_or_whose_worker_dies_fails_alone():
    units = ["a", "raise", "die", "unpicklable", "b", "c"]
    outcomes, stopped = run_units(units, 2, partial(pool_tasks.setup, "x"), pool_tasks.report)
    assert stopped is None
    by_unit = dict(zip(units, outcomes, strict=True))
    assert [by_unit[u].status for u in ("a", "b", "c")] == [DONE] * 3
    assert by_unit["raise"].status == FAILED
    assert "ValueError: a unit that raises" in by_unit["raise"].error
    assert by_unit["unpicklable"].status == FAILED and "pickle" in by_unit["unpicklable"].error
    assert by_unit["die"].status == LOST and "SIGKILL" in by_unit["die"].error


def _signal_when_started(folder: Path, names: list[str], signum: int) -> threading.Thread:
    """Sends `signum` to this process twice (a second Ctrl-C) once `names` have started."""

    def send():
        deadline = time.time() + 30
        while not all((folder / f"{n}.started").exists() for n in names):
            if time.time() > deadline:
                return
            time.sleep(0.01)
        os.kill(os.getpid(), signum)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("signum", "said"), [(signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")]
)
def test_a_signal_to_the_launcher_reaches_each_running_unit_once(tmp_path, signum, said):
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    units = ["w0", "w1", "w2", "w3"]
    run = partial(pool_tasks.wait_for_signal, str(tmp_path))
    sender = _signal_when_started(tmp_path, ["w0", "w1"], signum)
    outcomes, stopped = run_units(units, 2, partial(pool_tasks.setup, "x"), run)
    sender.join()
    assert stopped == signum
    assert [o.status if o else None for o in outcomes] == [INTERRUPTED, INTERRUPTED, None, None]
    for unit in ("w0", "w1"):  # as that signal, and its clean-up was not cut short
        assert (tmp_path / f"{unit}.stopped").read_text() == said
        assert (tmp_path / f"{unit}.cleaned").exists()
    assert not (tmp_path / "w2.started").exists()  # nothing more started
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == saved


def test_a_unit_stopped_by_a_signal_of_its_own_stops_the_others(tmp_path):
    run = partial(pool_tasks.interrupt_self_when_others_run, str(tmp_path))
    outcomes, stopped = run_units(["self", "w1", "w2"], 2, partial(pool_tasks.setup, "x"), run)
    assert stopped == signal.SIGINT
    assert [o.status if o else None for o in outcomes] == [INTERRUPTED, INTERRUPTED, None]
    assert (tmp_path / "w1.stopped").read_text() == "Ctrl-C"
    assert not (tmp_path / "w2.started").exists()


def test_a_launcher_worker_shares_the_cores_with_the_others(monkeypatch):
    from reglab import threads

    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "_workers", [])
    assert threads.threads_per_process(None, 1) == 4
    threads.share_cores_with(2)  # (what a stacked launcher's worker does at its start)
    assert threads.parallel_jobs() == 2
    assert threads.threads_per_process(None, 1) == 2
    assert threads.threads_per_process(None, 2) == 1  # a DDP job's 2 ranks in a worker
    assert threads.threads_per_process(3, 1) == 3  # hardware.threads wins


def test_a_signal_while_a_worker_starts_stops_it_before_its_first_unit():
    outcomes, stopped = run_units(
        ["u0", "u1"], 1, pool_tasks.interrupt_own_start_up, pool_tasks.report
    )
    assert stopped == signal.SIGINT
    assert [o.status if o else None for o in outcomes] == [INTERRUPTED, None]


def test_an_interrupt_the_unit_swallowed_is_sent_again(tmp_path):
    """A KeyboardInterrupt raised where Python swallows it would leave the unit running, the
    launcher having passed its one signal: the worker sends it SIGINT again."""
    sender = _signal_when_started(tmp_path, ["w0"], signal.SIGINT)
    start = time.monotonic()
    run = partial(pool_tasks.swallow_the_first_interrupt, str(tmp_path))
    outcomes, stopped = run_units(["w0"], 1, partial(pool_tasks.setup, "x"), run)
    sender.join()
    assert stopped == signal.SIGINT and outcomes[0].status == INTERRUPTED
    assert (tmp_path / "w0.swallowed").exists() and (tmp_path / "w0.stopped").exists()
    assert time.monotonic() - start < 15  # not its 40 s of sleep


def test_workers_whose_launcher_was_killed_stop_their_units(tmp_path):
    """SIGKILL (or a closed terminal's SIGHUP) to the launcher: its workers, now the init
    process's, stop their units as on SIGTERM (records, checkpoints) and exit."""
    import subprocess
    import sys

    code = (
        "from functools import partial\n"
        "from reglab.app.worker_pool import run_units\n"
        "from tests import pool_tasks\n"
        f"run_units(['w0', 'w1'], 2, partial(pool_tasks.setup, 'x'),"
        f" partial(pool_tasks.wait_for_signal, {str(tmp_path)!r}))\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).parents[1])
    try:
        deadline = time.time() + 60
        while not all((tmp_path / f"w{i}.started").exists() for i in (0, 1)):
            assert time.time() < deadline and launcher.poll() is None
            time.sleep(0.05)
    finally:
        launcher.kill()
        launcher.wait()
    deadline = time.time() + 15
    while not all((tmp_path / f"w{i}.cleaned").exists() for i in (0, 1)):
        assert time.time() < deadline, "the orphaned workers ran on"
        time.sleep(0.05)
    assert (tmp_path / "w0.stopped").read_text() == "SIGTERM"


def test_a_pool_keeps_its_workers_between_calls_and_resize_ends_idle_ones():
    """The same workers (set up once each) serve later calls; resize ends the idle ones
    beyond it, and the pool goes on with those left."""
    with WorkerPool(2, partial(pool_tasks.setup, "tag"), pool_tasks.report) as pool:
        first, stopped = pool.run_units(["a", "b", "c", "d"])
        assert stopped is None and [o.status for o in first] == [DONE] * 4
        second, _ = pool.run_units(["e", "f", "g"])
        values = [o.value for o in first + second]
        assert [v[0] for v in values] == list("abcdefg")
        pids = {v[1] for v in values}
        assert len(pids) == 2 and os.getpid() not in pids
        assert all(v[2] == ["tag"] for v in values)  # each worker set up once
        pool.resize(1)
        third, _ = pool.run_units(["h", "i"])
        assert len({o.value[1] for o in third}) == 1 and {o.value[1] for o in third} <= pids


def test_without_replace_a_dead_worker_stays_gone_and_the_others_take_its_units():
    """run_units(replace=False), as a sweep report drawn by the workers left: a worker that
    died is not replaced (a new one would import for seconds first); the live ones run every
    unit, and with none left the units come back unstarted."""
    with WorkerPool(2, partial(pool_tasks.setup, "tag"), pool_tasks.report) as pool:
        first, _ = pool.run_units(["a", "b"])
        pids = {o.value[1] for o in first}
        assert pool.live_workers() == 2
        died, _ = pool.run_units(["die"], replace=False)
        assert died[0].status == LOST and pool.live_workers() == 1
        after, stopped = pool.run_units(["c", "d", "e"], replace=False)
        assert stopped is None and [o.status for o in after] == [DONE] * 3
        assert len({o.value[1] for o in after}) == 1 and {o.value[1] for o in after} <= pids
        assert pool.live_workers() == 1
        pool.run_units(["die"], replace=False)
        assert pool.live_workers() == 0
        none_left, stopped = pool.run_units(["f"], replace=False)
        assert none_left == [None] and stopped is None
