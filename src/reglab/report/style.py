"""How the sweep report's figures look: one colour per configuration (the same in every figure
of a sweep), configuration labels rounded to what differs, metric labels with their units,
log axes where values span decades, legends beside the data."""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib import colormaps
from matplotlib.colors import to_hex

from reglab.replicas.folders import job_order
from reglab.report.jobs import Job
from reglab.report.summary import ConfigSummary, config_key

Config = tuple[str, ...]  # a job's overrides without the seed

# Matplotlib's ten, then twenty picked from the XKCD colours, each as far (CIE Lab) from those
# before it as any: readable on white (lightness 30-75), not greyish; the closest two of the
# thirty are 27.7 ΔE apart. Past 30 configurations, a sampled colour map. Each block of ten
# also gets its own dash pattern.
BASE_COLORS = [
    *(to_hex(colormaps["tab10"](i)) for i in range(10)),
    *("#0804f9", "#ff08e8", "#3c4d03", "#0165fc", "#ff0789", "#8fb67b", "#9a6200"),
    *("#920a4e", "#fe828c", "#a00498", "#c760ff", "#137e6d", "#ccad60", "#01c08d"),
    *("#5d21d0", "#f2ab15", "#be03fd", "#7f2b0a", "#84597e", "#d99b82"),
]
LINESTYLES = ("-", "--", "-.")
LEGEND_CHAR_W = 0.055  # inches per character of a legend label
LOG_SPAN = 100.0  # values spanning more than this factor get a log axis


def colors(n: int) -> list[str]:
    if n <= len(BASE_COLORS):
        return BASE_COLORS[:n]
    return [to_hex(colormaps["turbo"](i / (n - 1))) for i in range(n)]


def _number(text: str | None) -> float | None:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def round_to_differ(values: Sequence[float], least: int = 2, most: int = 10) -> list[str]:
    """The fewest significant digits (at least `least`) that keep distinct values distinct:
    0.35006976901234567 and 0.7109903401410047 read 0.35 and 0.71."""
    distinct = len(set(values))
    for digits in range(least, most + 1):
        texts = [f"{v:.{digits}g}" for v in values]
        if len(set(texts)) == distinct:
            return texts
    return [f"{v:.{most}g}" for v in values]


def short_keys(keys: list[str]) -> dict[str, str]:
    """`regularizer.weight_decay` -> `weight_decay` where the last part names it alone."""
    short = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if tail.isdigit():  # `regularizer.dropout.0`: the index alone names nothing
                continue
            if sum(1 for k in keys if k == tail or k.endswith("." + tail)) == 1:
                short[key] = tail
                break
        else:
            short[key] = key
    return short


def config_labels(configs: Sequence[Config]) -> dict[Config, str]:
    """Each configuration by the parameters that differ between them, numbers rounded to the
    digits that tell them apart."""
    params = {c: ConfigSummary(c).params for c in configs}
    keys = list(dict.fromkeys(k for p in params.values() for k in p))
    swept = [k for k in keys if len({p.get(k) for p in params.values()}) > 1]
    shown: dict[Config, list[str]] = {c: [] for c in configs}
    names = short_keys(swept)
    for key in swept:
        values = [params[c].get(key) for c in configs]
        numbers = [_number(v) for v in values]
        if all(n is not None for n in numbers):
            values = round_to_differ(numbers)  # type: ignore[arg-type]
        for c, v in zip(configs, values, strict=True):
            if v is not None:
                shown[c].append(f"{names[key]}={v}")
    return {c: ", ".join(shown[c]) or ", ".join(c) or "defaults" for c in configs}


@dataclass(frozen=True)
class SweepStyle:
    """Colour, dash pattern and label of each configuration of one sweep."""

    configs: tuple[Config, ...]  # in sweep order
    labels: dict[Config, str]

    def index(self, config: Config) -> int:
        return self.configs.index(config)

    def color(self, config: Config) -> str:
        return colors(len(self.configs))[self.index(config)]

    def linestyle(self, config: Config) -> str:
        return LINESTYLES[self.index(config) // 10 % len(LINESTYLES)]

    def label(self, config: Config) -> str:
        return self.labels[config]


def sweep_style(jobs: Iterable[Job]) -> SweepStyle:
    """The same for every figure of a sweep: configurations ordered by their first job."""
    ordered = sorted(jobs, key=lambda job: job_order(job.path))
    configs = tuple(dict.fromkeys(config_key(job) for job in ordered))
    return SweepStyle(configs, config_labels(configs))


# --- metrics and axes --------------------------------------------------------------------

STAGES = {"train": "training", "val": "validation", "test": "test", "test_curve": "test"}
QUANTITIES = {
    "acc": "accuracy (fraction correct)",
    "acc_best": "best accuracy (fraction correct)",
    "loss_max": "largest batch loss so far",
    "w_norm": "weight norm (L2)",
    "lr": "learning rate",
    "penalty": "penalty",
    "grad_norm_mean": "gradient norm, mean of steps (L2)",
    "grad_norm_max": "gradient norm, largest step (L2)",
}
OTHER_METRICS = {"epochs": "epochs trained", "wall_seconds": "wall time (s)"}


def loss_unit(regression: bool) -> str:
    return "MSE" if regression else "cross-entropy, nats"


def metric_label(key: str, regression: bool = False) -> str:
    """`val/loss` -> `validation loss (cross-entropy, nats)`; unknown keys as they are."""
    if key in OTHER_METRICS:
        return OTHER_METRICS[key]
    stage, sep, name = key.partition("/")
    if not sep or stage not in STAGES:
        return key
    if name in ("loss", "loss_best"):
        best = "lowest " if name == "loss_best" else ""
        return f"{STAGES[stage]} {best}loss ({loss_unit(regression)})"
    if name == "loss_max":
        return f"{STAGES[stage]} largest batch loss so far ({loss_unit(regression)})"
    return f"{STAGES[stage]} {QUANTITIES.get(name, name)}"


def _positive(values: Iterable[float]) -> list[float]:
    return [v for v in values if math.isfinite(v) and v > 0]


def scale_for(values: Iterable[float]) -> str:
    """ "log" where the positive values span more than 100x; "symlog" where some are also
    zero or negative (a log axis would drop them); else "linear"."""
    finite = [v for v in values if math.isfinite(v)]
    positive = _positive(finite)
    if len(positive) < 2 or max(positive) / min(positive) <= LOG_SPAN:
        return "linear"
    return "log" if len(positive) == len(finite) else "symlog"


def set_scale(ax, axis: str, values: Iterable[float]) -> str:
    """The axis's scale by scale_for(values); returns the scale set."""
    values = list(values)
    scale = scale_for(values)
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    if scale == "log":
        setter("log")
    elif scale == "symlog":  # linear below the smallest positive value's decade, log above
        smallest = min(_positive(values))
        setter("symlog", linthresh=10 ** math.floor(math.log10(smallest)))
    return scale


def legend_beside(ax, entries_from=None, **kwargs):
    """The legend right of the axes, outside the data; long lists in columns. Its entries
    are those of `entries_from` (another axes of the figure) where given."""
    handles, labels = (entries_from or ax).get_legend_handles_labels()
    if not handles:
        return None
    columns = 1 if len(handles) <= 16 else 2
    # the figure grows by the legend's width, so the axes keep theirs
    chars = max(len(label) for label in labels)
    fig = ax.get_figure()
    fig.set_figwidth(fig.get_figwidth() + columns * (0.5 + LEGEND_CHAR_W * chars))
    return ax.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        borderaxespad=0.0,
        fontsize=8 if len(handles) <= 12 else 7,
        ncols=columns,
        **kwargs,
    )


def mean_std_by_x(runs: Sequence[Sequence[tuple[float, float]]]):
    """(x, mean, std) over the runs, at every x some run has (std 0 where one run has it)."""
    by_x: dict[float, list[float]] = {}
    for run in runs:
        for x, y in run:
            if math.isfinite(y):
                by_x.setdefault(x, []).append(y)
    return [(x, *_mean_std(ys)) for x, ys in sorted(by_x.items())]


def _mean_std(ys: list[float]) -> tuple[float, float]:
    """Mean and sample std (0 for one value), from math.fsum's exactly rounded sums: within
    an ulp or two of statistics.stdev, which computes in exact fractions and took ~35 us a
    call (a toy1d sweep's bands, 2,000 epochs x 2 stages x 10 configurations: 1.4 s a
    figure)."""
    n = len(ys)
    mean = math.fsum(ys) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(math.fsum((y - mean) ** 2 for y in ys) / (n - 1))


def plot_mean_band(
    ax,
    runs,
    color: str,
    label: str,
    linestyle: str = "-",
    geometric: bool = False,
    floor: float | None = None,
) -> list[float]:
    """The runs' mean as a line, ± one std as a band of the same colour; returns every value
    drawn (band edges included), for the axis scale. `geometric` (for a log axis, where the
    values are positive): their geometric mean, the band ×/÷ one geometric std (the mean ±
    std of their logarithms): an arithmetic band of values spanning decades reaches below
    zero, which a loss never does. `floor`: the least value the quantity takes (a loss: 0),
    where the band stops."""
    if geometric:
        logs = [[(x, math.log(y)) for x, y in run if y > 0] for run in runs]
        stats = [
            (x, math.exp(m), math.exp(m - sd), math.exp(m + sd)) for x, m, sd in mean_std_by_x(logs)
        ]
    else:
        stats = [(x, m, m - sd, m + sd) for x, m, sd in mean_std_by_x(runs)]
    if not stats:
        return []
    xs, centres, low, high = (list(column) for column in zip(*stats, strict=True))
    if floor is not None:
        low = [max(v, floor) for v in low]
    marker = "o" if len(xs) < 30 else None  # a 1-epoch curve is one point: show it
    ax.plot(xs, centres, linestyle, color=color, marker=marker, markersize=3, lw=1.8, label=label)
    if any(h > lo for lo, h in zip(low, high, strict=True)):
        ax.fill_between(xs, low, high, color=color, alpha=0.2, lw=0)
    return [*low, *high]
