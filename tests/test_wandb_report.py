"""W&B Report of a sweep (wandb-workspaces): built offline and checked, saved only on --save."""

import wandb_workspaces.reports.v2 as wr

from reglab.report.__main__ import main as report_main
from reglab.report.wandb_report import build_wandb_report, config_key

from .conftest import FAST, run_main


def test_config_keys_of_swept_overrides():
    assert config_key("regularizer") == "choices.regularizer"
    assert config_key("regularizer.dropout[1]") == "regularizer.dropout"
    assert config_key("regularizer.dropout.0") == "regularizer.dropout"
    assert config_key("+optimizer.momentum") == "optimizer.momentum"


def test_report_of_a_tiny_sweep(tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep"
    result = run_main(
        ["-m", "regularizer=none,dropout", *FAST, "logger=csv", f"hydra.sweep.dir={sweep}"]
    )
    assert result.returncode == 0, result.stderr[-3000:]

    report = build_wandb_report(sweep, "me/reglab")
    assert (report.entity, report.project) == ("me", "reglab")
    grid = next(b for b in report.blocks if isinstance(b, wr.PanelGrid))
    (runset,) = grid.runsets
    assert runset.filters == "Group = 'sweep'"  # the W&B group train.py gives the sweep's jobs
    line, bar, parallel = grid.panels
    assert isinstance(line, wr.LinePlot) and line.y == ["val/acc"] and line.x == "epoch"
    assert line.groupby == wr.Config("choices.regularizer")
    assert isinstance(bar, wr.BarPlot) and bar.metrics == ["test/acc"]
    assert [c.metric for c in parallel.columns] == [
        wr.Config("choices.regularizer"),
        wr.SummaryMetric("test/acc"),
    ]
    for panel in grid.panels:  # each serialises to W&B's panel spec without a server
        assert panel._to_model().view_type
    code = next(b for b in report.blocks if isinstance(b, wr.CodeBlock))
    assert "regularizer=none,dropout" in code.code
    table = next(b for b in report.blocks if isinstance(b, wr.MarkdownBlock))
    assert "| dropout | 1 |" in table.text  # the summary table: configuration, seeds, ...

    # The CLI builds it and does not publish without --save; --save without credentials fails
    # with one clear line.
    assert report_main([str(sweep), "--wandb-report", "me/reglab"]) == 0
    out = capsys.readouterr().out
    assert "ParallelCoordinatesPlot" in out and "Not saved" in out
    monkeypatch.setenv("WANDB_API_KEY", "")
    assert report_main([str(sweep), "--wandb-report", "me/reglab", "--save"]) == 1
    assert "Could not save the W&B Report" in capsys.readouterr().err
