"""`resume=true` on a sweep folder: completed jobs are skipped, never run again or rewritten
(a resumed sweep used to replace a completed job's metrics.json with a test-only record)."""

import json

from .conftest import FAST, run_main


def test_resume_true_skips_completed_jobs_and_keeps_their_files(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *FAST, "logger=csv", "seed=0,1", f"hydra.sweep.dir={sweep}"]
    first = run_main(args)
    assert first.returncode == 0, first.stderr[-3000:]
    files = {
        p: p.read_bytes()
        for job in ("0", "1")
        for p in (sweep / job).rglob("*")
        # Hydra rewrites its own .hydra/ and appends the skip to train.log; results stay
        if p.is_file() and ".hydra" not in p.parts and p.name != "train.log"
    }
    again = run_main(["-m", "resume=true", *args[1:]])  # the override order must not matter
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("Already finished") == 2
    assert {p: p.read_bytes() for p in files} == files
    record = json.loads((sweep / "0" / "metrics.json").read_text())
    assert "resume=true" not in record["overrides"] and "val/acc" in record
    summary = (sweep / "summary.md").read_text()
    assert "resume" not in summary and "| 2 |" in summary
