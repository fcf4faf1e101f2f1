"""Cluster launchers: SLURM (submitit) composes and builds its sbatch job without a cluster;
submitit's local executor and a local Ray instance with 2 workers really run a sweep."""

import json
import os

import pytest

from reglab.config import CONFIG_DIR

from .conftest import FAST, REPO, run_cli, run_main

# Launcher workers import reglab by name: this checkout's, not whichever copy is installed
# (run_cli sets it for its process; run_main's launches inherit this process's environment).
_THIS_CHECKOUT = {
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))
}


class _FakeJob:
    def __init__(self, overrides):
        from hydra.core.utils import JobReturn, JobStatus

        self._return = JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=0.5)

    def results(self):
        return [self._return]


def test_slurm_launcher_builds_the_sbatch_job(monkeypatch):
    import submitit
    from hydra import compose, initialize_config_dir
    from hydra._internal.callbacks import Callbacks
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_automatic_config_search_path
    from hydra.core.plugins import Plugins
    from hydra.types import HydraContext

    overrides = ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "task_name=slurm_test"]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_.endswith("SlurmLauncher")
    assert (launcher_cfg.gpus_per_node, launcher_cfg.tasks_per_node) == (1, 1)
    assert launcher_cfg.timeout_min == 60 and launcher_cfg.partition == "gpu"

    captured = {}

    def fake_map_array(self, fn, *args):  # instead of sbatch: keep the executor and the jobs
        captured["executor"], captured["args"] = self, args
        return [_FakeJob(o) for o in args[0]]

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", fake_map_array)
    # no cluster here: submitit looks for `srun` before building a SLURM executor
    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))
    search_path = create_automatic_config_search_path(None, None, str(CONFIG_DIR))
    context = HydraContext(config_loader=ConfigLoaderImpl(search_path), callbacks=Callbacks(cfg))
    launcher = Plugins.instance().instantiate_launcher(
        hydra_context=context, task_function=lambda c: None, config=cfg
    )
    returns = launcher.launch([["seed=0"], ["seed=1"]], initial_job_idx=0)
    assert [r.return_value for r in returns] == [0.5, 0.5]
    assert list(captured["args"][0]) == [["seed=0"], ["seed=1"]]  # one array task per point
    slurm = captured["executor"]._executor
    assert isinstance(slurm, submitit.SlurmExecutor)
    script = slurm._make_submission_file_text("python -u -m submitit.core._submit", "uid")
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32GB",
        "#SBATCH --time=60",
        "#SBATCH --job-name=slurm_test",
    ):
        assert line in script, line


@pytest.mark.parametrize(
    ("launcher", "extra"),
    [
        ("submitit_local", ["hydra.launcher.timeout_min=5", "hydra.launcher.gpus_per_node=0"]),
        pytest.param(  # Ray starts its own cluster (~45 s on 2 cores): in the slow suite
            "ray",
            [
                "+hydra.launcher.ray.init.num_cpus=2",
                "+hydra.launcher.ray.remote.num_cpus=1",
                "+hydra.launcher.ray.init.include_dashboard=false",
            ],
            marks=pytest.mark.slow,
        ),
    ],
)
def test_local_launchers_run_a_sweep(tmp_path, launcher, extra):
    sweep = tmp_path / "sweep"
    args = ["-m", f"hydra/launcher={launcher}", *extra, "seed=0,1", *FAST, "logger=csv"]
    # submitit's jobs run in processes of their own, so the sweep itself can run here
    # (run_main); Ray's runs in one (run_cli): ray.init would leave a Ray instance in this one.
    launch = run_main if launcher == "submitit_local" else run_cli
    result = launch([*args, f"hydra.sweep.dir={sweep}"], env=_THIS_CHECKOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((sweep / j / "metrics.json").read_text()) for j in ("0", "1")]
    assert [r["status"] for r in records] == ["completed", "completed"]
    assert {r["overrides"][-1] for r in records} >= {"logger=csv"}
    assert "test/acc" in records[0] and (sweep / "summary.md").is_file()
