"""DDP (hardware=ddp_cpu: 2 processes on the CPU): sharding, equivalence with one process,
rank-0-only files, and DDP inside a multirun."""

import json

import pytest
import torch

from reglab.data.loader import TensorBatchLoader

from .conftest import FAST, run_main

# Stated tolerance: DDP averages the two half-batch gradients, one process takes the mean over
# the whole batch; the sums differ in float32 rounding only (~1e-8 per step, measured), which
# nine steps of SGD keep far below these bounds.
WEIGHT_ATOL, METRIC_ATOL = 1e-5, 1e-4


@pytest.mark.parametrize("n", [640, 600, 513])
def test_ranks_share_every_global_batch_and_see_each_sample_once(n):
    x = torch.arange(n)
    single = TensorBatchLoader(x, x, 64, shuffle=True, seed=3)
    ranks = [
        TensorBatchLoader(x, x, 64, shuffle=True, seed=3, rank=r, world_size=2) for r in (0, 1)
    ]
    for epoch in (0, 1):
        for loader in (single, *ranks):
            loader.sampler.set_epoch(epoch)
        # every rank steps together; a last batch of 1 sample (n=513) cannot be shared: dropped
        rest = n % 64
        assert len(ranks[0]) == len(ranks[1]) == len(single) - (rest == 1)
        seen = []
        for step, (whole, *parts) in enumerate(zip(single, *ranks, strict=False)):
            batch = whole[0]
            halves = [p[0] for p in parts]
            assert torch.equal(torch.cat(halves), batch), f"step {step}: not the same samples"
            assert abs(len(halves[0]) - len(halves[1])) <= 1
            seen += torch.cat(halves).tolist()
        assert len(seen) == len(set(seen)) == n - (rest if rest == 1 else 0)  # each once
        if rest != 1:
            assert sorted(seen) == list(range(n))


def test_global_batch_must_divide_among_processes(make_config):
    from reglab.app.settings import validate_config
    from reglab.config import ConfigError

    with pytest.raises(ConfigError, match=r"dataset.batch_size=63 is the global batch"):
        validate_config(make_config("hardware=ddp_cpu", "dataset.batch_size=63"))
    with pytest.raises(ConfigError, match="needs a multi-process strategy"):
        validate_config(make_config("hardware.devices=2"))


def _weights(job) -> dict[str, torch.Tensor]:
    return torch.load(job / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]


def test_ddp_matches_one_process_inside_a_multirun(tmp_path):
    sweep = tmp_path / "sweep"
    # the sweep in this process (run_main); ddp_spawn starts the two ranks' processes
    result = run_main(
        ["-m", "hardware=cpu,ddp_cpu", *FAST, f"hydra.sweep.dir={sweep}"],
        env={"WANDB_MODE": "offline"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name.isdigit())
    assert [j.name for j in jobs] == ["0", "1"]  # one folder per job, no extra ones
    single, ddp = (json.loads((j / "metrics.json").read_text()) for j in jobs)
    assert ddp["choices"]["hardware"] == "ddp_cpu" and ddp["status"] == "completed"
    assert ddp["epochs"] == single["epochs"] == 1
    for key in ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"):
        assert ddp[key] == pytest.approx(single[key], abs=METRIC_ATOL), key
    a, b = _weights(jobs[0]), _weights(jobs[1])
    weights = [name for name in a if name.startswith("net.")]
    assert weights
    for name in weights:
        torch.testing.assert_close(b[name], a[name], atol=WEIGHT_ATOL, rtol=0)

    # Only rank 0 writes: one row per epoch, one W&B run holding each epoch once.
    rows = (jobs[1] / "metrics.csv").read_text().splitlines()
    assert len(rows) == 2
    from reglab.loggers.wandb_offline import read_offline_run

    runs = list((jobs[1] / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    run = read_offline_run(runs[0])
    assert [h["val/acc"] for h in run.history if "val/acc" in h] == [pytest.approx(ddp["val/acc"])]
    assert run.summary["test/acc"] == pytest.approx(ddp["test/acc"])
