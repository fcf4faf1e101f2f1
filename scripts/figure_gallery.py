"""Draws the sweep report's figures for the same synthetic sweeps, to look at them side by side.

    PYTHONPATH=src .venv/bin/python scripts/figure_gallery.py OUT_DIR

OUT_DIR gets `grid_<file>` (3 regularizers x 3 seeds: 9 jobs) and `search_<file>` (9 trials of
a search, sampled floats in full) for every figure the report writes, and, where this code
has them, Optuna's own figures of a 9-trial study. The sweeps come from tests/fake_sweeps.py,
so the figures of two versions of reglab (PYTHONPATH=<other checkout>/src) compare directly.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.fake_sweeps

from reglab.report.build import build_report  # noqa: E402
from tests.fake_sweeps import grid_sweep, search_sweep  # noqa: E402


def optuna_figures(out: Path) -> list[Path]:
    try:
        from reglab.search.figures import write_optuna_figures
    except ImportError:  # a version without them
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))

    def objective(trial):
        dropout = trial.suggest_float("regularizer.dropout.0", 0.0, 0.8)
        decay = trial.suggest_float("regularizer.weight_decay", 1e-6, 1e-2, log=True)
        return 0.85 - (dropout - 0.4) ** 2 - 0.002 * abs(__import__("math").log10(decay) + 4)

    study.optimize(objective, n_trials=9)
    return write_optuna_figures(study, out, "val/acc_best")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    out = parser.parse_args().out_dir
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, sweep in (
            ("grid", grid_sweep(Path(tmp) / "grid", configs=3, seeds=3)),
            ("search", search_sweep(Path(tmp) / "search", trials=9)),
        ):
            for path in build_report(sweep):
                if path.suffix == ".png":
                    shutil.copy(path, out / f"{name}_{path.name}")
                    print(out / f"{name}_{path.name}")
        for path in optuna_figures(Path(tmp)):
            shutil.copy(path, out / path.name)
            print(out / path.name)


if __name__ == "__main__":
    main()
