"""What makes a figure readable, pinned: whole-number epoch ticks (a 1-epoch run is at 1, not
0.96 ... 1.04); every figure of a sweep report, drawn for 2, 9 and 24 jobs, checked from its
artists: each configuration its own colour (the same in every figure, shared by its seeds),
axes labelled, no value off a log axis, no legend over the data, no unrounded floats, an .svg
beside each .png; Optuna's own figures of a search."""

import logging
import re
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import StepPatch
from matplotlib.text import Text

from reglab.outputs.figure_files import vector_path
from reglab.outputs.plots import epoch_axis, plot_curves, plot_runs_curves
from reglab.report.build import build_report
from reglab.report.jobs import load_jobs
from reglab.report.page import OPTUNA_FIGURES
from reglab.report.style import config_labels, round_to_differ, set_scale
from reglab.report.summary import config_key
from tests.fake_sweeps import CLASSIFICATION_RUN, REGRESSION_RUN, grid_sweep, search_sweep


def _ticks(epochs: list[int]) -> list[float]:
    fig, ax = plt.subplots()
    ax.plot(epochs, [0.5] * len(epochs), marker="o")
    epoch_axis(ax)
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    plt.close(fig)
    return ticks


def test_epoch_ticks_are_whole_numbers():
    assert _ticks([1]) == [1.0]
    assert all(float(t).is_integer() for t in _ticks([1, 2, 3]))
    assert all(float(t).is_integer() for t in _ticks(list(range(1, 41))))


# --- every figure of a sweep report, for 2, 9 and 24 jobs ----------------------------------

SWEEPS = {
    "2 jobs": lambda path: grid_sweep(path, configs=2, seeds=1),
    "9 jobs": lambda path: grid_sweep(path, configs=3, seeds=3),
    "24 jobs": lambda path: grid_sweep(path, configs=8, seeds=3),
    "24 trials": lambda path: search_sweep(path, trials=24),
}
LONG_DECIMALS = re.compile(r"\d\.\d{7,}")  # 0.35006976901234567: a float nobody rounded


@pytest.fixture
def drawn(monkeypatch):
    """The figures saved while the test runs, by name, kept open to inspect."""
    figures: dict[str, Figure] = {}
    close = plt.close

    def keep(fig=None):
        if isinstance(fig, Figure) and fig.get_label():
            figures[fig.get_label()] = fig
        else:
            close(fig)

    monkeypatch.setattr(plt, "close", keep)
    yield figures
    for fig in figures.values():
        close(fig)


def _data_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.lines or ax.collections or ax.patches]


def _texts(fig) -> list[str]:
    texts = [t.get_text() for t in fig.findobj(Text)]
    return [t for t in texts if t]


def _seen_colors(fig) -> dict[str, tuple]:
    """Configuration label -> colour, as the reader matches them: legend entries, the rows
    of the per-configuration figure (tick labels), the rows of the weight histograms."""
    seen = {}
    for legend in [ax.get_legend() for ax in fig.axes] + fig.legends:
        if legend is None:
            continue
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            if isinstance(handle, Line2D) and handle.get_linestyle() != "None":
                seen[text.get_text().rsplit(" (n=", 1)[0]] = to_rgb(handle.get_color())
    if fig.get_label().endswith("_by_config") and fig.get_label() != "curves_by_config":
        (ax,) = fig.axes
        means = [c for c in ax.containers]  # one error bar per row, top to bottom
        for tick, container in zip(ax.get_yticklabels(), means, strict=True):
            seen[tick.get_text()] = to_rgb(container.lines[0].get_color())
    if fig.get_label() == "weight_histograms":
        rows = [ax for ax in fig.axes if ax.texts]
        for ax in rows:
            label = ax.texts[0].get_text().rsplit(" (n=", 1)[0]
            seen[label] = to_rgb(_seed_patches(ax)[0].get_edgecolor())
    return seen


def _seed_patches(ax) -> list[StepPatch]:
    """The weight histograms' per-seed histograms on a panel."""
    return [a for a in ax.get_children() if isinstance(a, StepPatch)]


def _distance(a, b) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


def _check_readable(fig) -> None:
    name = fig.get_label()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = _data_axes(fig)
    assert axes, name
    boxes = [ax.get_window_extent(renderer) for ax in axes]
    for ax, box in zip(axes, boxes, strict=True):
        # labelled: on the panel, or on the panel that labels its column / row
        column = [a for a, b in zip(axes, boxes, strict=True) if abs(b.x0 - box.x0) < 2]
        row = [a for a, b in zip(axes, boxes, strict=True) if abs(b.y0 - box.y0) < 2]
        assert any(a.get_xlabel() for a in column) or fig._supxlabel, (name, "x label")
        assert any(a.get_ylabel() for a in row) or fig._supylabel, (name, "y label")
        for line in ax.lines:
            data = line.get_xydata()
            if not len(data):
                continue
            finite = data[np.isfinite(data).all(axis=1)]
            points = line.get_transform().transform(finite)
            # every value drawn where the reader can see it: none off a log axis, none
            # outside the axes
            assert np.isfinite(points).all(), (name, line.get_label(), "off the axis")
            assert (points[:, 0] >= box.x0 - 2).all() and (points[:, 0] <= box.x1 + 2).all()
            assert (points[:, 1] >= box.y0 - 2).all() and (points[:, 1] <= box.y1 + 2).all()
        values = [v for line in ax.lines for v in line.get_ydata() if np.isfinite(v) and v > 0]
        if values and max(values) / min(values) > 100 and ax.get_yscale() == "linear":
            pytest.fail(f"{name}: values span {max(values) / min(values):.0f}x on a linear axis")
    for legend in [ax.get_legend() for ax in fig.axes] + fig.legends:
        if legend is not None:
            box = legend.get_window_extent(renderer)
            for data_box in boxes:
                assert not box.overlaps(data_box), (name, "legend over the data")
    for text in _texts(fig):
        assert not LONG_DECIMALS.search(text), (name, text)


@pytest.mark.parametrize("sweep_kind", list(SWEEPS))
def test_every_report_figure_reads(tmp_path, drawn, sweep_kind):
    sweep = SWEEPS[sweep_kind](tmp_path / "sweep")
    jobs = load_jobs(sweep)
    configs = {config_key(job) for job in jobs}
    seeds = len(jobs) // len(configs)
    written = [p for p in build_report(sweep) if p.suffix == ".png"]
    names = {p.stem for p in written}
    assert {"test_acc_by_config", "curves_by_config", "comparison", "weight_histograms"} <= names
    assert set(drawn) == names  # every figure went through the one save helper
    colours: dict[str, tuple] = {}
    for path in written:
        assert vector_path(path).read_text().startswith("<?xml"), path  # the .svg beside it
        fig = drawn[path.stem]
        _check_readable(fig)
        seen = _seen_colors(fig)
        if path.stem in ("test_acc_by_config", "curves_by_config", "weight_histograms"):
            assert len(seen) == len(configs), path.stem  # every configuration shown
        if path.stem == "comparison" and len(configs) <= 16:
            assert len(seen) == len(configs), path.stem
        distinct = list(seen.values())
        for i, a in enumerate(distinct):
            for b in distinct[:i]:
                assert _distance(a, b) > 0.1, (path.stem, "two configurations look alike")
        for label, colour in seen.items():  # the same colour in every figure of the sweep
            assert colours.setdefault(label, colour) == colour, (path.stem, label)
    # the seeds of a configuration share its colour: in each panel of the comparison, a
    # colour's lines are its seeds (and their mean)
    for ax in drawn["comparison"].axes:
        per_colour = Counter(to_rgb(line.get_color()) for line in ax.lines)
        assert len(per_colour) == len(configs)
        assert set(per_colour.values()) == {seeds + 1 if seeds > 1 else 1}
    for ax in drawn["weight_histograms"].axes:  # a patch per seed: outline and light fill
        patches = _seed_patches(ax)
        assert len(patches) == seeds
        assert len({to_rgb(p.get_edgecolor()) for p in patches}) == 1
        for patch in patches:
            assert patch.get_fill() and patch.get_facecolor()[3] < 0.5  # the outline shows
            assert to_rgb(patch.get_facecolor()) == to_rgb(patch.get_edgecolor())
            assert patch.get_edgecolor()[3] == 1.0


def test_configuration_labels_keep_only_the_digits_that_differ():
    assert round_to_differ([0.35006976901234567, 0.7109903401410047]) == ["0.35", "0.71"]
    assert round_to_differ([0.1234, 0.1235]) == ["0.1234", "0.1235"]
    labels = config_labels(
        [
            ("regularizer.dropout.0=0.35006976901234567", "regularizer.weight_decay=1e-05"),
            ("regularizer.dropout.0=0.7109903401410047", "regularizer.weight_decay=0.001"),
        ]
    )
    assert list(labels.values()) == [
        "dropout.0=0.35, weight_decay=1e-05",
        "dropout.0=0.71, weight_decay=0.001",
    ]


def test_log_axis_only_where_values_span_decades_and_zero_stays_on_it():
    fig, ax = plt.subplots()
    assert set_scale(ax, "y", [0.5, 2.0]) == "linear"
    assert set_scale(ax, "y", [1e-3, 1.0]) == "log"
    assert set_scale(ax, "y", [0.0, 1e-3, 1.0]) == "symlog"
    ax.plot([1, 2, 3], [1.0, 1e-3, 0.0])
    fig.canvas.draw()
    points = ax.lines[0].get_transform().transform(ax.lines[0].get_xydata())
    assert np.isfinite(points).all()  # the 0 is drawn, at the bottom of the axis
    plt.close(fig)


def _study(trials: int, params: int):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    names = ["regularizer.dropout.0", "regularizer.weight_decay"][:params]
    study.optimize(
        lambda t: sum(t.suggest_float(n, 1e-6, 1.0, log=True) for n in names), n_trials=trials
    )
    return study


def test_optuna_figures_beside_the_report(tmp_path, drawn, caplog):
    import optuna

    from reglab.search.figures import IMPORTANCES, write_optuna_figures

    written = write_optuna_figures(_study(6, 2), tmp_path, "val/acc_best")
    assert {p.name for p in written} == set(OPTUNA_FIGURES)
    for path in written:
        assert vector_path(path).is_file()
    history = drawn["optuna_history"]
    assert history.axes[0].get_ylabel() == "validation best accuracy (fraction correct)"
    parallel = [t.get_text() for t in drawn["optuna_parallel_coordinate"].axes[0].get_xticklabels()]
    assert parallel[0] == "val/acc_best" and "dropout.0" in parallel
    assert not any(t.endswith("...") for t in parallel)
    assert drawn["optuna_importances"].axes[0].get_legend() is None  # one entry: the x label
    importances = drawn["optuna_importances"].axes[0]
    assert "PED-ANOVA, sums to 1" in importances.get_xlabel()
    assert sum(bar.get_width() for bar in importances.patches) == pytest.approx(1.0, abs=0.02)
    for name in ("optuna_history",):
        legend = drawn[name].axes[0].get_legend()
        drawn[name].canvas.draw()
        assert not legend.get_window_extent().overlaps(drawn[name].axes[0].get_window_extent())
    # the report shows them
    grid_sweep(tmp_path, configs=2, seeds=1)
    assert "](optuna_importances.png)" in (
        build_report(tmp_path) and (tmp_path / "report.md").read_text()
    )

    # too little to weigh parameters: no importances, a line saying why, the others drawn
    with caplog.at_level(logging.INFO, logger="reglab.search.figures"):
        one_param = write_optuna_figures(_study(4, 1), tmp_path / "one", None)
        one_trial = write_optuna_figures(_study(1, 2), tmp_path / "two", None)
    assert [p.name for p in one_param] == ["optuna_history.png", "optuna_parallel_coordinate.png"]
    assert [p.name for p in one_trial] == ["optuna_history.png"]
    # all trials alike: Optuna would give each parameter the same share, which reads as a
    # finding; not drawn either
    flat = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    flat.optimize(lambda t: 0 * t.suggest_float("a", 0, 1) + 0 * t.suggest_float("b", 0, 1), 5)
    with caplog.at_level(logging.INFO, logger="reglab.search.figures"):
        written = write_optuna_figures(flat, tmp_path / "flat", None)
    assert IMPORTANCES not in {p.name for p in written}
    assert "too few distinct trials to tell them apart" in caplog.text
    assert caplog.text.count("Parameter importances need 2 completed trials and 2 parameters") == 2


def test_bands_are_the_mean_and_sample_std_of_the_runs():
    """The learning-curve bands: at every x, the runs' mean and sample standard deviation
    (statistics' exact ones, to rounding), NaN points left out, one run: std 0."""
    import random
    import statistics

    from reglab.report.style import mean_std_by_x

    rng = random.Random(0)
    runs = [[(x, rng.gauss(1e3, 1e-3)) for x in range(20)] for _ in range(3)]
    runs.append([(0, float("nan")), (25, 2.0)])
    stats = mean_std_by_x(runs)
    assert [x for x, *_ in stats] == [*range(20), 25]
    for x, mean, std in stats[:-1]:
        ys = [run[x][1] for run in runs[:3]]
        assert mean == pytest.approx(statistics.fmean(ys), rel=1e-15)
        assert std == pytest.approx(statistics.stdev(ys), rel=1e-9)
    assert stats[-1] == (25, 2.0, 0.0)


def test_a_loss_band_spanning_decades_is_geometric_and_never_below_zero(tmp_path, monkeypatch):
    """Seeds whose training loss ends 1e-12 apart from 1e-8 (toy1d without weight decay): the
    arithmetic mean ± std reaches below zero and turned the axis symmetric-log with negative
    decades. On the log axis the band is the geometric mean ×/÷ one geometric std, said so."""
    import math

    from reglab.report import compare, figures
    from reglab.report.jobs import Job
    from reglab.report.summary import ConfigSummary

    kept = []
    for module in (compare, figures):
        monkeypatch.setattr(module, "save_figure", lambda fig, path: kept.append(fig) or path)
    finals = (1e-12, 1e-10, 1e-8)
    jobs = [
        Job(
            tmp_path / str(i),
            [f"seed={i}"],
            {"status": "completed"},
            [
                {"epoch": e, "train/loss": final ** (e / 10), "val/loss": 0.5 * final ** (e / 10)}
                for e in range(1, 11)
            ],
            f"seed={i}",
        )
        for i, final in enumerate(finals)
    ]
    compare.plot_learning_curves(jobs, tmp_path / "comparison.png")
    summaries = [ConfigSummary(config_key(jobs[0]), jobs)]
    assert figures.plot_curves_by_config(summaries, [], tmp_path / "c.png") is not None
    geometric_mean = math.prod(finals) ** (1 / 3)
    # the comparison's training loss, the curves' validation loss (half the training's here)
    for fig, scale in zip(kept, (1.0, 0.5), strict=True):
        ax = fig.axes[0]
        assert ax.get_yscale() == "log"
        band = next(c for c in ax.collections if len(c.get_paths()))
        assert (band.get_paths()[0].vertices[:, 1] > 0).all()
        centre = next(line for line in ax.get_lines() if line.get_linewidth() == 1.8)
        assert centre.get_ydata()[-1] == pytest.approx(scale * geometric_mean, rel=1e-9)
    assert "geometric mean" in kept[0].axes[1].get_legend().get_title().get_text()
    assert "geometric mean" in kept[1].axes[0].get_ylabel()


# --- a run's curves.png, laid out by hand ---------------------------------------------------

CURVES = {
    "1 epoch with a test": [{"epoch": 1, "train/loss": 0.5, "val/loss": 0.6, "test/loss": 0.7}],
    "classification, 40 epochs": CLASSIFICATION_RUN,
    "regression, 2,000 epochs, a log loss": REGRESSION_RUN,
}


# a seeds=N run's one figure: every replica's curves, a colour a seed
CURVES["seeds=20, 10 epochs"] = {
    f"seed {seed}": [
        {"epoch": e, "train/loss": 1 / e + seed / 100, "val/loss": 1.1 / e + seed / 90}
        for e in range(1, 11)
    ]
    for seed in range(20)
}
CURVES["seeds=3, regression, a log loss"] = {
    f"seed {seed}": CURVES["regression, 2,000 epochs, a log loss"] for seed in range(3)
}


@pytest.mark.parametrize("kind", list(CURVES))
def test_a_runs_curves_keep_every_text_apart_and_on_the_page(tmp_path, drawn, kind):
    """Tick labels, axis labels, titles and the legend: none overlaps another or an axes it
    does not belong to, all inside the figure; the loss on a log axis where it spans
    decades; a seeds=N run's figure: a colour and a legend entry a seed."""
    curves, log_loss = CURVES[kind], "regression" in kind
    if isinstance(curves, dict):
        plot_runs_curves(curves, tmp_path / "curves.png", log_loss=log_loss)
    else:
        plot_curves(curves, tmp_path / "curves.png", log_loss=log_loss)
    fig = drawn["curves"]
    if isinstance(curves, dict):
        (legend,) = fig.legends
        entries = [text.get_text() for text in legend.get_texts()]
        assert entries[: len(curves)] == list(curves)
        assert entries[len(curves) :] == ["training", "validation"]
        seen = _seen_colors(fig)
        assert len({seen[run] for run in curves}) == len(curves)  # a colour a seed
    assert (tmp_path / "curves.png").is_file() and vector_path(tmp_path / "curves.png").is_file()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    texts = [text for legend in fig.legends for text in legend.get_texts()]
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
        texts += [ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()]
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            texts += [t.label1 for t in axis.get_major_ticks() if lo <= t.get_loc() <= hi]
    texts = [t for t in texts if t.get_visible() and t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in texts]
    for text, box in zip(texts, boxes, strict=True):
        inside = page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0
        assert inside and box.y1 <= page.y1, (kind, text.get_text(), "off the page")
    for i, (a, box_a) in enumerate(zip(texts, boxes, strict=True)):
        for b, box_b in zip(texts[i + 1 :], boxes[i + 1 :], strict=True):
            assert not box_a.overlaps(box_b), (kind, a.get_text(), b.get_text())
    data = [ax.get_window_extent(renderer) for ax in fig.axes]
    for legend in fig.legends:
        assert not any(legend.get_window_extent(renderer).overlaps(box) for box in data)
    for ax in fig.axes:  # tick labels and axis labels stay clear of every other panel
        for text in [*ax.get_yticklabels(), ax.yaxis.label, ax.title, ax.xaxis.label]:
            if text.get_text():
                box = text.get_window_extent(renderer)
                assert not any(box.overlaps(d) for d in data if d != ax.get_window_extent())
    loss = fig.axes[0]
    assert loss.get_yscale() == ("log" if "log loss" in kind else "linear")
