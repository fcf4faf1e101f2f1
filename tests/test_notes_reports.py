"""The experiment-specific sweep reports (reglab.report.topics), on sweep folders with known
numbers, and experiment=lenet_regularizers end to end on the generated CIFAR-10 pickles."""

import csv
import json
from pathlib import Path

import pytest
import yaml

from reglab.report.build import build_report
from tests.conftest import run_cli


def make_job(sweep: Path, num: int, task: str, overrides: list[str], metrics: dict, rows=()):
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"task_name": task}))
    (job / "metrics.json").write_text(json.dumps({"status": "completed", **metrics}))
    if rows:
        columns = list(dict.fromkeys(k for r in rows for k in r))
        with open(job / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return job


def test_dropout_table_report_spread_and_explode_answer(tmp_path):
    sweep = tmp_path / "sweep"
    for seed in range(2):
        # test accuracy over 12 epochs; the last 10 run from 0.80 + 0.01 * seed to 0.85 + ...
        rows = [
            {
                "epoch": e,
                "test_curve/acc": 0.5 if e <= 2 else 0.80 + 0.01 * seed + (0.05 if e == 7 else 0.0),
                "train/loss": 1.0 / e,
                "train/grad_norm_mean": 0.5 + 0.1 * e,
                "train/grad_norm_max": 1.0 + e,
            }
            for e in range(1, 13)
        ]
        for num, case in enumerate(("neither", "dropout")):
            make_job(
                sweep,
                2 * seed + num,
                "dropout_table",
                [f"+case/dropout_table={case}", f"seed={seed}"],
                {"test/acc": 0.88 + 0.01 * seed, "train/acc": 0.9, "train/loss_max": 2.3026,
                 "train/loss": 0.25},
                rows,
            )  # fmt: skip
    build_report(sweep)
    text = (sweep / "dropout_table.md").read_text()
    # range over the last 10 epochs: 0.05 in every run (a 0.85 spike at epoch 7)
    assert "| neither | 2 | 0.9000 ± 0.0000 | 0.8850 ± 0.0071 | 0.0500 ± 0.0000 | 0.0500 |" in text
    assert "test accuracy (test_curve/acc)" in text
    assert "`neither`: does not explode" in text
    assert "from 0.600 (epoch 1) to 1.700 (last epoch)" in text  # grad norm mean 0.5 + 0.1 e
    assert "the largest single step's is 13.000" in text
    assert (sweep / "grad_norm.png").stat().st_size > 0
    assert "## dropout_table" in (sweep / "report.md").read_text()


def test_norm_layers_report_tables_by_norm_and_batch_size(tmp_path):
    sweep = tmp_path / "sweep"
    num = 0
    for norm, acc in (("batch", 0.5), ("group", 0.9)):
        for batch in (2, 64):
            for seed in (0, 1):
                make_job(
                    sweep,
                    num,
                    "norm_layers",
                    [f"model.norm={norm}", f"dataset.batch_size={batch}", f"seed={seed}"],
                    {"val/acc": acc + (0.1 if batch == 64 else 0) + 0.02 * seed,
                     "train/loss_max": 10.0 / batch, "test/acc": acc},
                )  # fmt: skip
                num += 1
    build_report(sweep)
    text = (sweep / "norm_layers.md").read_text()
    assert "| norm | batch 2 | batch 64 |" in text
    assert "| batch | 0.5100 ± 0.0141 | 0.6100 ± 0.0141 |" in text
    assert "| group | 5.000 ± 0.000 | 0.156 ± 0.000 |" in text
    assert (sweep / "norm_layers.png").stat().st_size > 0


def test_dropout_variance_report_one_figure_per_configuration(tmp_path):
    sweep = tmp_path / "sweep"
    for num, case in enumerate(("dropout", "swapped", "none")):
        rows = [
            {"epoch": e, "act/var/h1/train": 0.1 * e, "act/var/h1/eval": 0.05 * e,
             "act/var/h2/train": 0.2 * e, "act/var/h2/eval": 0.1 * e}
            for e in (1, 2, 3)
        ]  # fmt: skip
        make_job(
            sweep, num, "dropout_variance", [f"+case/dropout_variance={case}", "seed=0"], {}, rows
        )
    build_report(sweep)
    for case in ("dropout", "swapped", "none"):
        assert (sweep / f"activation_variance_{case}.png").stat().st_size > 0
    assert "| swapped | h2 | train | 0.2 | 0.6 |" in (sweep / "dropout_variance.md").read_text()


def test_early_stopping_report_marks_the_stop(tmp_path):
    sweep = tmp_path / "sweep"
    # val/acc peaks first at epoch 4 (the tested checkpoint), again at 6 (not better)
    rows = [{"epoch": e, "val/loss": abs(e - 4) + 1.0, "test_curve/loss": abs(e - 5) + 1.0,
             "val/acc": 0.6 if e in (4, 6) else 0.5, "test_curve/acc": 0.6}
            for e in range(1, 9)]  # fmt: skip
    for num, (case, test_acc) in enumerate((("early_stopping", 0.61), ("none", 0.62))):
        metrics = {"epochs": 8, "test/acc": test_acc, "test_curve/acc": 0.6, "val/acc_best": 0.5}
        make_job(
            sweep, num, "early_stopping", [f"+case/early_stopping={case}", "seed=0"], metrics, rows
        )
    build_report(sweep)
    text = (sweep / "early_stopping.md").read_text()
    assert "| early_stopping | 1 | 8.0 ± 0.0 | 4.0 ± 0.0 | 0.6100 ± 0.0000 |" in text
    assert (sweep / "early_stopping.png").stat().st_size > 0


@pytest.mark.slow
def test_lenet_regularizers_end_to_end_on_generated_cifar(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        [
            "-m",
            "experiment=lenet_regularizers",
            "trainer.max_epochs=1",
            "dataset.val_size=20",
            "dataset.batch_size=20",
            "logger=csv",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    statuses = [json.loads((sweep / str(i) / "metrics.json").read_text()) for i in range(6)]
    assert [s["status"] for s in statuses] == ["completed"] * 6
    assert [s["choices"]["regularizer"] for s in statuses] == [
        "none", "conv_dropout", "dropout", "l1", "none", "weight_decay",
    ]  # fmt: skip
    table = (sweep / "per_class_accuracy.md").read_text()
    assert (
        table.splitlines()[0]
        == "| class | none | conv_dropout | fc_dropout | l1 | adam | l2_adam |"
    )
    assert len(table.splitlines()) == 2 + 10  # ten classes
    assert (sweep / "per_class_accuracy.png").stat().st_size > 0
