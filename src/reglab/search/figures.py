"""Optuna's own figures of a search, beside the sweep report's: the optimisation history,
the parameters' importances and the parallel coordinates of the trials."""

import logging
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import optuna
from optuna.trial import TrialState

from reglab.outputs.figure_files import save_figure
from reglab.report.page import OPTUNA_FIGURES
from reglab.report.style import legend_beside, metric_label, short_keys

log = logging.getLogger(__name__)

HISTORY, IMPORTANCES, PARALLEL = OPTUNA_FIGURES
# what Optuna's PED-ANOVA warns when its top and whole sets of trials are the same
EQUAL_IMPORTANCES = "Parameter importances will be equal"


def _legend_beside(ax) -> None:
    """Optuna puts its legend over the trials: move it right of the axes (a legend of one
    entry, the target's name, repeats the axis label: dropped)."""
    legend = ax.get_legend()
    if legend is None:
        return
    if len(legend.get_texts()) < 2:
        legend.remove()
        return
    legend_beside(ax)


def _untruncate(ax, params: list[str], target: str) -> None:
    """Optuna cuts long names to `regularizer.dropo...`: the shortest unique name instead;
    the target's axis by its key (the colour bar spells it out)."""
    names = short_keys(params)
    labels = [target]  # Optuna's first axis is the target's
    for label in ax.get_xticklabels()[1:]:
        text = label.get_text()
        stem = text.removesuffix("...")
        matches = [p for p in params if p == text or (text.endswith("...") and p.startswith(stem))]
        labels.append(names[matches[0]] if len(matches) == 1 else text)
    ax.set_xticks(ax.get_xticks(), labels)


def _importances(study: optuna.Study, target_name: str, out_dir: Path) -> list[Path]:
    from optuna.visualization import matplotlib as vis

    # named here, so that the axis says which method weighed them
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        ax = vis.plot_param_importances(study, evaluator, target_name=target_name)
    if any(EQUAL_IMPORTANCES in str(w.message) for w in caught):
        # too few (or too alike) trials: PED-ANOVA returns equal shares, which would read
        # as a finding
        plt.close(ax.figure)
        log.info("Parameter importances: too few distinct trials to tell them apart, not drawn")
        return []
    ax.set_xlabel(f"importance for {target_name} (PED-ANOVA, sums to 1)")
    _legend_beside(ax)
    return [save_figure(ax.figure, out_dir / IMPORTANCES)]


def write_optuna_figures(
    study: optuna.Study, out_dir: str | Path, metric: str | None = None
) -> list[Path]:
    """The figures that apply to the study's completed trials; returns the files written.
    `metric`: what the trials' value is (the search's optimized_metric), for the axes."""
    from optuna.visualization import matplotlib as vis

    out_dir = Path(out_dir)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not complete:
        log.info("No completed trial: no Optuna figures")
        return []
    target_name = metric_label(metric) if metric else "objective value"
    params = sorted({p for t in complete for p in t.params})
    written = []
    with warnings.catch_warnings():  # Optuna marks its matplotlib figures experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = vis.plot_optimization_history(study, target_name=target_name)
        _legend_beside(ax)
        written.append(save_figure(ax.figure, out_dir / HISTORY))
        if len(complete) < 2 or len(params) < 2:
            log.info(
                "Parameter importances need 2 completed trials and 2 parameters (%d, %d): "
                "not drawn",
                len(complete),
                len(params),
            )
        else:
            written += _importances(study, target_name, out_dir)
        if len(complete) >= 2:  # one trial's coordinates compare with nothing
            ax = vis.plot_parallel_coordinate(study, target_name=target_name)
            _untruncate(ax, params, metric or "objective")
            written.append(save_figure(ax.figure, out_dir / PARALLEL))
    plt.close("all")  # Optuna's colour bars can leave a figure of their own behind
    return written
