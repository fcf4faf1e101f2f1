"""Shared services and the network (issue 19, part 4): parallel jobs on one fresh MLflow
store, a W&B server that does not answer, and the command that re-runs a sweep's failed
jobs."""

import logging
import multiprocessing
import shlex
import socket
import time

import pytest

from reglab.config.errors import ConfigError

from .conftest import FAST, run_main


def _open_store(uri: str, name: str, barrier, results) -> None:
    from reglab.loggers.mlflow import build_mlflow_logger

    barrier.wait()  # both processes open the fresh store at the same moment
    try:
        node = {"_target_": "MLFlowLogger", "experiment_name": "reglab", "tracking_uri": uri}
        logger = build_mlflow_logger(node, name, [])
        logger.log_metrics({"val/acc": 0.5}, step=0)
        logger.finalize("success")
        results.put((name, "ok"))
    except Exception as exc:
        results.put((name, f"{type(exc).__name__}: {exc}"))


def test_parallel_jobs_on_a_fresh_sqlite_store_are_all_recorded(tmp_path):
    """`-m hydra/launcher=joblib hydra.launcher.n_jobs=2 logger=mlflow` on a fresh store: both
    jobs created and migrated the SQLite schema at once, and one failed ("... blames
    tracking_uri"). Two processes open the store at the same instant; both runs are there."""
    import mlflow  # imported here, so the forked processes have it

    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    fork = multiprocessing.get_context("fork")
    barrier, results = fork.Barrier(2), fork.Queue()
    jobs = [
        fork.Process(target=_open_store, args=(uri, f"job{i}", barrier, results)) for i in range(2)
    ]
    for job in jobs:
        job.start()
    outcomes = dict(results.get(timeout=120) for _ in jobs)
    for job in jobs:
        job.join(timeout=30)
    assert outcomes == {"job0": "ok", "job1": "ok"}
    runs = mlflow.MlflowClient(tracking_uri=uri).search_runs(
        [mlflow.MlflowClient(tracking_uri=uri).get_experiment_by_name("reglab").experiment_id]
    )
    assert sorted(r.info.run_name for r in runs) == ["job0", "job1"]
    assert all(r.data.metrics["val/acc"] == 0.5 for r in runs)


@pytest.fixture
def unreachable_wandb(monkeypatch, tmp_path):
    """An API key and a W&B server address nothing listens on (no network, as seen by wandb)."""
    with socket.socket() as probe:  # a port that was free a moment ago: closed now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    return port


def _wandb_node(tmp_path, mode: str) -> dict:
    return {"_target_": "WandbLogger", "project": "reglab", "save_dir": str(tmp_path), "mode": mode}


def test_an_unreachable_wandb_server_goes_offline_with_one_warning(
    unreachable_wandb, tmp_path, caplog
):
    """With a key and no network, a run stalled ~107 s and ended in a traceback; with
    mode=auto (the default) it now logs offline, within seconds, and says so once."""
    from reglab.loggers.wandb import build_wandb_logger, finish_wandb

    start = time.monotonic()
    with caplog.at_level(logging.WARNING):
        logger = build_wandb_logger(_wandb_node(tmp_path, "auto"), {"a": 1}, "run")
    try:
        assert time.monotonic() - start < 15
        assert logger.experiment.settings.mode == "offline"
    finally:
        finish_wandb()
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("reglab")]
    assert len(warnings) == 1 and "WANDB_MODE=offline" in warnings[0], warnings
    assert f"127.0.0.1:{unreachable_wandb}" in warnings[0]


@pytest.mark.parametrize("how", ["mode", "env"])
def test_an_unreachable_wandb_server_asked_for_online_is_one_line(
    how, unreachable_wandb, tmp_path, monkeypatch
):
    from reglab.loggers.wandb import build_wandb_logger

    if how == "env":
        monkeypatch.setenv("WANDB_MODE", "online")
    start = time.monotonic()
    with pytest.raises(ConfigError) as error:
        build_wandb_logger(_wandb_node(tmp_path, "online" if how == "mode" else "auto"), {}, "r")
    assert time.monotonic() - start < 15
    message = str(error.value)
    assert "\n" not in message and "not reachable" in message
    assert "Fix: WANDB_MODE=offline" in message


def test_the_failed_sweep_hint_re_runs_only_the_failed_jobs(tmp_path):
    """The hint said "re-running the same command re-runs only them", true only with the same
    hydra.sweep.dir: a plain re-run starts a new sweep folder and runs every job again. The
    printed command, run, skips the finished job and runs the failed one again."""
    args = ["-m", *FAST, "logger=csv", "regularizer.dropout=0.3,1.5"]
    first = run_main(args)
    assert first.returncode == 1
    (line,) = [li for li in first.stderr.splitlines() if "1 of 2 jobs failed" in li]
    command = shlex.split(line.split("To re-run only them (once fixed): ", 1)[1])
    assert command[:2] == ["python", "train.py"]
    (sweep,) = (tmp_path / "logs" / "train" / "multiruns").iterdir()
    assert f"hydra.sweep.dir={sweep}" in command and "resume=true" in command
    done = sweep / "0" / "metrics.json"
    before = (done.read_bytes(), done.stat().st_mtime_ns)
    again = run_main(command[2:])
    shown = again.stdout + again.stderr
    assert again.returncode == 1  # dropout=1.5 is still invalid
    assert f"Already finished in {sweep / '0'}: skipped" in shown
    assert (done.read_bytes(), done.stat().st_mtime_ns) == before  # not run again
    assert "regularizer.dropout: Input should be less than 1" in shown  # job 1 ran again
    assert [p.name for p in (tmp_path / "logs" / "train" / "multiruns").iterdir()] == [sweep.name]


def test_wandb_login_credentials_are_found_for_the_host_wandb_uses(monkeypatch, tmp_path):
    """`wandb login` writes ~/.netrc for the host wandb talks to; reglab looked up
    api.wandb.ai, while this wandb's default is another host: a logged-in user's runs went
    offline (mode=auto) without credentials being missed."""
    from urllib.parse import urlsplit

    from wandb.sdk.lib import urls

    from reglab.loggers.wandb import has_credentials

    monkeypatch.delenv("WANDB_BASE_URL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    host = urlsplit(urls.DEFAULT_BASE_URL).hostname
    (tmp_path / ".netrc").write_text(f"machine {host}\n  login user\n  password {'k' * 40}\n")
    (tmp_path / ".netrc").chmod(0o600)
    assert has_credentials()
    (tmp_path / ".netrc").write_text(
        f"machine elsewhere.example\n  login u\n  password {'k' * 40}\n"
    )
    assert not has_credentials()
