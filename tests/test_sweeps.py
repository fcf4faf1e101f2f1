"""Sweeps: aggregation over seeds, report files, failed jobs, resuming a sweep."""

import csv
import json

import pytest

from .conftest import run_main

SWEEP = [
    "-m",
    "regularizer.dropout=0.0,0.3,1.5",  # 1.5 is invalid: those jobs fail, the sweep goes on
    "seed=0,1",
    "dataset.val_size=100",
    "dataset.batch_size=64",
    "trainer.max_epochs=1",
    "logger=csv",
    "tags=[nightly]",  # shown in the summary
]


def test_sweep_summary_report_failures_and_resume(tmp_path):
    sweep = tmp_path / "sweep"
    first = run_main([*SWEEP, f"hydra.sweep.dir={sweep}"])
    assert first.returncode == 1, first.stderr[-3000:]  # after the report: 2 jobs failed
    assert "2 of 6 jobs failed" in first.stderr

    statuses = {}
    for job in sorted(p for p in sweep.iterdir() if p.name.isdigit()):
        record = json.loads((job / "metrics.json").read_text())
        statuses[job.name] = record["status"]
        if record["status"] == "failed":
            assert "regularizer.dropout" in record["error"]
    assert sorted(statuses.values()) == ["completed"] * 4 + ["failed"] * 2

    rows = list(csv.DictReader((sweep / "summary.csv").read_text().splitlines()))
    assert [r["regularizer.dropout"] for r in rows][-1] == "1.5"  # no results: sorted last
    by_rate = {r["regularizer.dropout"]: r for r in rows}
    assert by_rate["0.3"]["seeds"] == "2" and by_rate["1.5"]["failed"] == "2"
    accs = []
    for seed in (0, 1):
        job = next(
            j
            for j in sweep.iterdir()
            if j.name.isdigit() and _overrides(j) >= {"regularizer.dropout=0.3", f"seed={seed}"}
        )
        accs.append(json.loads((job / "metrics.json").read_text())["test/acc"])
    mean = sum(accs) / 2
    assert float(by_rate["0.3"]["test/acc_mean"]) == pytest.approx(mean)
    assert float(by_rate["0.3"]["test/acc_std"]) > 0 or accs[0] == accs[1]

    summary_md = (sweep / "summary.md").read_text()
    assert "±" in summary_md and "2 failed" in summary_md
    assert summary_md.startswith("Tags: nightly\n")
    report = (sweep / "report.md").read_text()
    assert "python train.py -m regularizer.dropout=0.0,0.3,1.5 seed=0,1" in report
    assert "6 jobs: 4 completed, 2 failed" in report
    for figure in (
        "test_acc_vs_regularizer.dropout.png",
        "test_acc_by_config.png",
        "curves_by_config.png",
        "comparison.png",
    ):
        assert (sweep / figure).read_bytes()[:4] == b"\x89PNG", figure
        assert f"]({figure})" in report

    # Run the same command again: finished jobs are skipped, the report covers all jobs.
    finished = {
        j: (sweep / j / "metrics.json").stat().st_mtime_ns
        for j, s in statuses.items()
        if s == "completed"
    }
    again = run_main([*SWEEP, f"hydra.sweep.dir={sweep}"])
    assert again.returncode == 1, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("Already finished") == 4
    for job, mtime in finished.items():
        assert (sweep / job / "metrics.json").stat().st_mtime_ns == mtime
    assert "6 jobs: 4 completed, 2 failed" in (sweep / "report.md").read_text()


def _overrides(job) -> set[str]:
    import yaml

    return set(yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text()))


@pytest.mark.slow  # joblib's launcher also runs in the default suite: test_shared_services.py
def test_parallel_jobs_with_the_joblib_launcher(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_main(  # the sweep here; its two jobs in joblib's worker processes
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "regularizer=none,dropout",
            "dataset.val_size=100",
            "dataset.batch_size=64",
            "trainer.max_epochs=1",
            "logger=csv",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    records = [json.loads((sweep / j / "metrics.json").read_text()) for j in ("0", "1")]
    assert [r["choices"]["regularizer"] for r in records] == ["none", "dropout"]
    assert all(r["status"] == "completed" for r in records)
    assert "2 jobs: 2 completed" in (sweep / "report.md").read_text()
