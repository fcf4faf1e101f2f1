"""Runs reglab on bad inputs, as a user would, and prints what each one answers.

    .venv/bin/python scripts/bad_inputs_table.py [--only NAME ...] > table.md

Each case is a real `python train.py ...` launch on small generated data (a copy of it made
bad where the case needs it). The table has the exit code, whether a traceback was printed,
and the message. tests/test_bad_inputs.py asserts the same cases.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))

from tests.bad_data import make_bad_data  # noqa: E402

FAST = ["dataset.batch_size=64", "trainer.max_epochs=1", "logger=csv", "extras.print_config=false"]
FMNIST = ["dataset.val_size=100"]  # the image-folder data set has no val_size


def cases(d: Path) -> list[tuple[str, list[str], dict]]:
    """(case, train.py arguments, environment) for every bad input. `THEN` separates two
    commands run one after the other (the table shows the second); `{mlp_ckpt}` is the
    last.ckpt of a finished MLP run."""
    rmb = ["dataset=rmb", "model=lenet"]
    user = f"hydra.searchpath=[file://{d / 'bad_models' / 'configs'}]"
    bad_pkg = {"PYTHONPATH": str(d / "bad_models")}
    corrupt = [*rmb, f"dataset.root={d / 'corrupt_image'}"]
    # WANDB_MODE None: unset (W&B's default mode: online with a key)
    unreachable = {"WANDB_API_KEY": "x" * 40, "WANDB_BASE_URL": "http://127.0.0.1:9"}
    unreachable["WANDB_MODE"] = None
    return [
        ("typo in a trainer key", ["trainer.max_epoch=1"], {}),
        ("unknown trainer key, added", ["+trainer.max_epoch=1"], {}),
        (
            "early-stopping monitor not logged",
            ["regularizer=early_stopping", "regularizer.early_stopping.monitor=val/accuracy"],
            {},
        ),
        ("optimized_metric not logged", ["optimized_metric=val/nonexistent"], {}),
        ("truncated .gz", [], {"DATA_DIR": str(d / "truncated")}),
        ("label out of range (12)", [], {"DATA_DIR": str(d / "label12")}),
        ("hydra.run.dir=/proc/x", ["hydra.run.dir=/proc/x"], {}),
        ("paths.log_dir=/proc/x", ["paths.log_dir=/proc/x"], {}),
        ("hydra.sweep.dir=/proc/x", ["-m", "seed=0,1", "hydra.sweep.dir=/proc/x"], {}),
        ("run folder is a file", [f"hydra.run.dir={d / 'a_file'}"], {}),
        ("hardware=gpu without a GPU", ["hardware=gpu"], {}),
        ("second class folder empty", [*rmb, f"dataset.root={d / 'one_empty'}"], {}),
        ("both class folders empty", [*rmb, f"dataset.root={d / 'both_empty'}"], {}),
        ("a split without a class", [*rmb, f"dataset.root={d / 'too_few'}"], {}),
        ("completed run folder given", [f"hydra.run.dir={d / 'completed'}"], {}),
        (
            "resume=true, folder holds a completed run",
            [f"hydra.run.dir={d / 'completed'}", "resume=true"],
            {},
        ),
        ("test_ckpt=best without validation", ["dataset.val_size=0", "test_ckpt=best"], {}),
        ("multirun with failed jobs", ["-m", "regularizer.dropout=0.3,1.5"], {}),
        # these worked before the hardening; kept so they stay working
        ("value out of range", ["regularizer.dropout=1.5"], {}),
        ("unknown key added", ["+model.depth=3"], {}),
        ("unknown option", ["regularizer=dropuot"], {}),
        ("resume=true without a run", ["resume=true"], {}),
        ("ckpt_path missing", ["ckpt_path=/nonexistent.ckpt"], {}),
        ("data folder missing", [], {"DATA_DIR": str(d / "nowhere")}),
        ("image folder missing", [*rmb, "dataset.root=/nonexistent"], {}),
        ("corrupt image", [*rmb, f"dataset.root={d / 'corrupt_image'}"], {}),
        ("Ctrl-C during start-up", ["SIGINT"], {}),
        # issue 19: a user's model that cannot train as it is (tests/bad_data.py's bad_pkg)
        *(
            (name, [user, f"model={option}", *more], bad_pkg)
            for name, option, more in (
                ("user model: 5 outputs for 10 classes", "five_outputs", []),
                ("user model: 11 outputs for 10 classes", "one_too_many", []),
                ("user model: no parameters", "no_parameters", []),
                ("user model: forward returns a tuple", "tuple_output", []),
                ("user model: (N,) outputs, (N, 1) targets", "flat_regression", ["dataset=toy1d"]),
                ("user model: outputs detached", "detached", []),
                ("user model: ignores in_shape", "fixed_inputs", []),
            )
        ),
        ("model=lenet from an MLP checkpoint", ["model=lenet", "ckpt_path={mlp_ckpt}"], {}),
        ("optimizer=adam from an SGD checkpoint", ["optimizer=adam", "ckpt_path={mlp_ckpt}"], {}),
        ("another lr than the checkpoint's", ["optimizer.lr=0.01", "ckpt_path={mlp_ckpt}"], {}),
        (
            "an lr schedule the checkpoint lacks",
            ["regularizer=lr_decay", "ckpt_path={mlp_ckpt}"],
            {},
        ),
        ("an = in a checkpoint path", [f"ckpt_path={d / 'a=b.ckpt'}"], {}),
        ("a ( in a checkpoint path", [f"ckpt_path={d / 'run(1).ckpt'}"], {}),
        ("seed=4294967296", ["seed=4294967296"], {}),
        ("seeds=10 from seed=4294967290", ["seed=4294967290", "seeds=10"], {}),
        ("dataset.split_seed=2**64", ["dataset.split_seed=18446744073709551616"], {}),
        ("100-character tag with W&B", ["logger=wandb", f"tags=[{'x' * 100}]"], {}),
        ("W&B project with a slash", ["logger=wandb", "logger.wandb.project=me/reglab"], {}),
        ("MLflow tag that is no tag key", ["logger=mlflow", "tags=[lr+0.1]"], {}),
        ("WANDB_MODE set but empty", ["logger=wandb"], {"WANDB_MODE": ""}),
        ("logger.wandb.mode typo", ["logger=wandb", "logger.wandb.mode=ofline"], {}),
        ("W&B key, server unreachable (mode auto)", ["logger=wandb"], unreachable),
        (
            "W&B key, server unreachable, WANDB_MODE=online",
            ["logger=wandb"],
            {**unreachable, "WANDB_MODE": "online"},
        ),
        (
            "2 parallel jobs, fresh MLflow store",
            ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "logger=mlflow", "seed=0,1"],
            {},
        ),
        # issue 19: files are data, runs are owned ({...} from hostile_files())
        ("checkpoint holding a pickled command", ["ckpt_path={pickled_ckpt}"], {}),
        (
            "eval of a checkpoint holding a pickled command",
            ["EVAL", "ckpt_path={pickled_ckpt}"],
            {},
        ),
        (
            "eval of a checkpoint whose model is subprocess.getoutput",
            ["EVAL", "ckpt_path={callable_model_ckpt}"],
            {},
        ),
        (
            "eval into a training run's folder",
            ["EVAL", "ckpt_path={mlp_ckpt}", "hydra.run.dir={interrupted_run}"],
            {},
        ),
        (
            "another run into an interrupted run's folder",
            ["seed=7", "hydra.run.dir={interrupted_run}"],
            {},
        ),
        ("a diverged run's folder given", ["hydra.run.dir={diverged_run}"], {}),
        (
            "RMB cache of on_bad_file=skip, then =error",
            [*corrupt, "dataset.on_bad_file=skip", "THEN", *corrupt, "dataset.on_bad_file=error"],
            {},
        ),
    ]


def message(output: str) -> str:
    """The lines a user reads: errors and what follows them, without log prefixes."""
    lines = [re.sub(r"^\[[^\]]*\]\[[^\]]*\]\[\w+\] - ", "", line) for line in output.splitlines()]
    lines = [line for line in lines if line.strip() and not line.startswith("wandb:")]
    keep = [
        line
        for line in lines
        if not line.startswith(("Results in", "reglab: sweep report"))
        and re.search(r"error|cannot|invalid|not |no |interrupted|failed|fix|  - ", line, re.I)
    ]
    shown = (keep or lines[-2:])[:3]
    shown += [line for line in lines if "jobs failed" in line and line not in shown]
    return " / ".join(line.strip() for line in shown)


def run_case(args: list[str], env: dict, workdir: Path) -> tuple[int, str]:
    env = {**os.environ, "REGLAB_LOG_DIR": str(workdir / "logs"), **env}
    env = {k: v for k, v in env.items() if v is not None}
    env.pop("WANDB_SERVICE", None)
    if args == ["SIGINT"]:  # Ctrl-C two seconds in: importing, composing or loading
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "train.py"), *FAST, *FMNIST],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Ctrl-C as from a terminal, also when this script runs in the background
            # (where the shell ignores SIGINT, and children inherit that)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
        return proc.returncode, out
    env["REGLAB_CACHE_DIR"] = str(workdir / "cache")
    if args[:1] == ["EVAL"]:  # python eval.py with these arguments alone
        result = subprocess.run(
            [sys.executable, str(REPO / "eval.py"), *args[1:]],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return result.returncode, result.stdout + result.stderr
    if "THEN" in args:
        at = args.index("THEN")
        run_case(args[:at], env, workdir)
        args = args[at + 1 :]
    flags = [a for a in args if a.startswith("-")]  # -m goes before the overrides
    rest = [a for a in args if not a.startswith("-")]
    sizes = [] if any(a.startswith("dataset=") for a in rest) else FMNIST
    own_logger = any(a.startswith("logger=") for a in rest)  # instead of FAST's logger=csv
    fast = [a for a in FAST if not (own_logger and a.startswith("logger="))]
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), *flags, *fast, *sizes, *rest],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.returncode, result.stdout + result.stderr


def mlp_checkpoint(d: Path) -> Path:
    """last.ckpt of a finished one-epoch MLP run (sgd, lr 0.1), trained once."""
    ckpt = d / "mlp_run" / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        rc, out = run_case([f"hydra.run.dir={d / 'mlp_run'}"], {}, d / "work" / "mlp_run")
        assert rc == 0, out[-2000:]
    return ckpt


def hostile_files(d: Path) -> dict[str, Path]:
    """Files made from the MLP run: checkpoints that would run a command if loaded as code,
    and copies of the run as an interrupted and a diverged run."""
    import json
    import shutil

    import torch

    from tests.payloads import PickledCommand

    ckpt = mlp_checkpoint(d)
    marker = d / "payload_ran"
    files = {"mlp_run": ckpt.parent.parent}
    pickled = torch.load(ckpt, weights_only=True)
    pickled["callbacks"]["hostile"] = PickledCommand(marker)
    torch.save(pickled, files.setdefault("pickled_ckpt", d / "pickled.ckpt"))
    callable_model = torch.load(ckpt, weights_only=True)
    command = {"_target_": "subprocess.getoutput", "cmd": f"touch {marker}"}
    callable_model["hyper_parameters"]["model"] = command
    callable_model["hyper_parameters"]["config"]["model"] = command
    torch.save(callable_model, files.setdefault("callable_model_ckpt", d / "callable.ckpt"))
    for status in ("interrupted", "diverged"):
        copy = files.setdefault(f"{status}_run", d / f"{status}_run")
        if not copy.exists():
            shutil.copytree(files["mlp_run"], copy)
            record = json.loads((copy / "metrics.json").read_text())
            (copy / "metrics.json").write_text(json.dumps(record | {"status": status}))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="case names (substrings) to run")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_bad_data(d)
        os.environ.setdefault("DATA_DIR", str(d / "good"))
        os.environ["DATA_DIR"] = str(d / "good")
        os.environ.setdefault("WANDB_MODE", "offline")
        print("| case | command | exit | traceback | message now |")
        print("|---|---|---|---|---|")
        for number, (name, args, env) in enumerate(cases(d)):
            if options.only and not any(o in name for o in options.only):
                continue
            # a numbered folder: a case's name in its paths would match message()'s words
            work = d / "work" / f"case{number}"
            work.mkdir(parents=True)
            if any("{mlp_ckpt}" in a for a in args):
                args = [a.replace("{mlp_ckpt}", str(mlp_checkpoint(d))) for a in args]
            if any(("{" in a and "_run}" in a) or "_ckpt}" in a for a in args):
                files = hostile_files(d)
                args = [a.format(**files) if "{" in a else a for a in args]
            rc, out = run_case(args, env, work)
            shown = " ".join(args).replace(str(d), "<tmp>")
            shown += "".join(f" ({k}=<{Path(v or '').name}>)" for k, v in env.items())
            text = message(out).replace(str(d), "<tmp>").replace("|", "\\|")
            if (d / "payload_ran").exists():  # a checkpoint ran code: the worst answer
                text = f"**A PAYLOAD RAN.** {text}"
            print(
                f"| {name} | `{shown}` | {rc} | {'yes' if 'Traceback' in out else 'no'} | {text} |"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
