"""What an Optuna search leaves in its sweep folder: the best trial and every trial."""

import csv
import io
import shlex
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from reglab.extras.command import program
from reglab.outputs.atomic import write_text
from reglab.search.space import SearchSpace


def write_results(study: optuna.Study, space: SearchSpace, sweep_dir: Path) -> dict:
    trials = study.trials
    keys = list(space.distributions)
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["trial", "state", "value", *keys])
    for t in trials:
        writer.writerow([t.number, t.state.name, t.value, *(t.params.get(k) for k in keys)])
    write_text(sweep_dir / "trials.csv", table.getvalue())
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    results: dict = {
        "study": study.study_name,
        "direction": study.direction.name.lower(),
        "trials": len(trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
    }
    if complete:
        best = study.best_trial
        results |= {
            "best_trial": best.number,
            "best_value": best.value,
            "best_params": dict(best.params),
            "best_overrides": space.overrides(best.params),
            # one run of the best trial (hydra.mode=RUN: hparams_search would start a search)
            "best_command": " ".join(
                [program("train"), shlex.join([*space.overrides(best.params), "hydra.mode=RUN"])]
            ),
        }
    write_text(sweep_dir / "optimization_results.yaml", yaml.safe_dump(results, sort_keys=False))
    return results
