"""Shared fixtures: small data sets in real file formats; configs composed as the CLI does."""

import os
from pathlib import Path

import numpy as np
import pytest

from reglab.config import register_resolvers
from reglab.config.compose import compose_config
from reglab.data.fashion_mnist import FILES, SUBDIR
from reglab.data.idx import write_idx

REPO = Path(__file__).resolve().parents[1]
register_resolvers()


# The files that take longest, longest first (their test-seconds on 2 cores: 300, 146, 138,
# 61, 61). `--dist loadfile` hands whole files to the workers in collection order, so a long
# file collected late ran alone at the end of the suite while the other worker idled.
LONGEST_FILES = (
    "test_stacked_launcher.py",
    "test_seeds_lifecycle.py",
    "test_replicas.py",
    "test_seeds_in_turn.py",
    "test_launchers.py",
)


def pytest_collection_modifyitems(config, items):
    """The longest files first; every other file, and each file's tests, in their order."""
    rank = {name: index for index, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# OMP_NUM_THREADS as the user started pytest ("" if unset). The xdist controller loads this
# file too, before it starts the workers: they inherit what it sets, and must not take the
# controller's share (all the cores) for a value the user chose.
_USER_THREADS_VAR = "REGLAB_TESTS_USER_OMP_NUM_THREADS"


def _share_the_cores() -> None:
    """Each pytest-xdist worker gets its share of the cores, as reglab gives each parallel job:
    torch would use every core in every worker, and the runs the tests start in children
    inherit OMP_NUM_THREADS. An OMP_NUM_THREADS the user set wins.

    Two workers with two threads each on two cores is not just oversubscribed: OpenMP threads
    spin while they wait for each other, and a small model's steps then take up to 10x longer
    (the toy-fit test: 12 s alone, 100-250 s next to other runs)."""
    os.environ.setdefault(_USER_THREADS_VAR, os.environ.get("OMP_NUM_THREADS", ""))
    if os.environ[_USER_THREADS_VAR]:
        return
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    threads = max(1, (os.cpu_count() or 1) // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


_share_the_cores()


def make_patterned_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images whose class is a bright horizontal band (learnable in one epoch)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        top = 2 + 2 * int(label)
        images[i, top : top + 3, 4:24] = 230
    return images, labels


def write_fashion_mnist(root: Path, n_train: int = 600, n_test: int = 200) -> Path:
    """Writes the four official file names, gzip IDX, under root/FashionMNIST/raw."""
    raw = root / SUBDIR
    raw.mkdir(parents=True, exist_ok=True)
    x_train, y_train = make_patterned_images(n_train, seed=1)
    x_test, y_test = make_patterned_images(n_test, seed=2)
    arrays = {
        "train_images": x_train,
        "train_labels": y_train,
        "test_images": x_test,
        "test_labels": y_test,
    }
    for key, stem in FILES.items():
        write_idx(raw / f"{stem}.gz", arrays[key])
    return root


def write_cifar10(root: Path, per_batch: int = 40, n_test: int = 40) -> Path:
    """The official cifar-10-batches-py pickles: `data` rows of 3072 bytes (R, G, B planes of
    32x32) and `labels`; the class is a bright row band, learnable in one epoch."""
    import pickle

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for seed, name in enumerate(names):
        n = n_test if name == "test_batch" else per_batch
        rng = np.random.default_rng(100 + seed)
        labels = rng.integers(0, 10, size=n)
        images = rng.integers(0, 60, size=(n, 3, 32, 32)).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, :, 2 + 3 * int(label) : 4 + 3 * int(label), 4:28] = 230
        entry = {"batch_label": name, "data": images.reshape(n, 3072), "labels": labels.tolist()}
        with (folder / name).open("wb") as f:
            pickle.dump(entry, f)
    return root


def write_image_folder(root: Path, per_class: int = 10) -> Path:
    """Two class subfolders of JPEGs of different sizes: '1' reddish, '100' bluish."""
    from PIL import Image

    rng = np.random.default_rng(7)
    for name, channel in (("1", 0), ("100", 2)):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 80, size=(24 + i, 48, 3)).astype(np.uint8)
            pixels[..., channel] = 220
            Image.fromarray(pixels).save(root / name / f"{name}_{i:02d}.jpg")
    return root


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory) -> Path:
    """The data folder of every test: Fashion-MNIST, CIFAR-10 and RMB_data, all small."""
    root = write_fashion_mnist(tmp_path_factory.mktemp("data"))
    write_cifar10(root)
    write_image_folder(root / "RMB_data")
    return root


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path, fmnist_root):
    """No network, no W&B server, nothing written outside tmp dirs."""
    monkeypatch.setenv("DATA_DIR", str(fmnist_root))
    monkeypatch.setenv("REGLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REGLAB_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    # each test starts with no W&B service of an earlier test in this worker: a DDP rank
    # attaching to a run fails when the run belongs to another test's service
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    yield
    import sys

    if "wandb" in sys.modules:
        sys.modules["wandb"].teardown()


# Settings that keep a run small: the data set above is 600 images, so a batch of 64 gives
# 9 training steps per epoch.
FAST = ["dataset.val_size=100", "dataset.batch_size=64", "trainer.max_epochs=1"]


@pytest.fixture
def make_config(tmp_path):
    """Configs of runs in tmp_path/run, then run-1, run-2, ...: a run folder is its own run's
    (reglab.run_folder), so each config made here is a run of its own."""
    made = []

    def _make(*overrides: str, fast: bool = True):
        folder = tmp_path / ("run" if not made else f"run-{len(made)}")
        made.append(folder)
        return compose_config([*(FAST if fast else []), *overrides], folder)

    return _make


def run_cli(
    args: list[str],
    env: dict | None = None,
    timeout: int = 300,
    cwd: Path = REPO,
    script: Path = REPO / "train.py",
):
    """Runs `python train.py ...` in a subprocess, as a user would (`script`: another entry
    point, e.g. tests/signal_run.py)."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        # Not WANDB_SERVICE: a W&B run started in this pytest process would make every child
        # share its wandb-core service (wandb sets the variable), unlike a user's commands.
        env={k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
        # Launcher workers (submitit, Ray) import reglab by name: this checkout's, not
        # whichever copy the environment has installed.
        | {
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])
            )
        }
        | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
        # Ctrl-C as in a user's terminal, even if something in this process ignores SIGINT
        # (a child inherits an ignored signal)
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_main(args: list[str], env: dict | None = None, entry: str = "train"):
    """`python train.py ...` without a new process: Hydra's main runs here, with the command
    line, environment, stdout and stderr of a launch, and returns what run_cli returns. For
    tests of what a command prints and exits with (config and path errors) that need no
    process of their own: a launch costs ~5-8 s of imports, this ~0.5 s."""
    import contextlib
    import io
    import logging
    import subprocess
    import sys
    import traceback

    from hydra.core.global_hydra import GlobalHydra

    from reglab.app import cli

    main = cli.eval_job if entry == "eval" else cli.train_job

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = (list(sys.argv), dict(os.environ), list(root.handlers), root.level)
    code = 0
    try:
        sys.argv = [str(REPO / "train.py"), *args]
        os.environ.update(env or {})
        GlobalHydra.instance().clear()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # an uncaught error: what the interpreter would print
                traceback.print_exc()
                code = 1
    finally:
        sys.argv = saved[0]
        os.environ.clear()
        os.environ.update(saved[1])
        for handler in root.handlers:  # the handlers Hydra's logging config added
            if handler not in saved[2]:
                handler.close()
        root.handlers[:] = saved[2]
        root.setLevel(saved[3])
        GlobalHydra.instance().clear()
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`: compare two to prove nothing was written."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# A run that takes about a second: the 1-D toy regression, one epoch, CSV only.
TOY = ["dataset=toy1d", "trainer.max_epochs=1", "logger=csv"]


def finished_run(tmp_path_factory, data_root: Path, name: str, overrides=TOY) -> Path:
    """A completed run's folder (the TOY run by default), for module-scoped fixtures, in the
    environment _isolated_env gives a test."""
    from reglab.app.job import run

    out = tmp_path_factory.mktemp(name) / "run"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATA_DIR", str(data_root))
        env.setenv("REGLAB_CACHE_DIR", str(out.parent / "cache"))
        env.setenv("REGLAB_LOG_DIR", str(out.parent / "logs"))
        assert run(compose_config(list(overrides), out))["status"] == "completed"
    return out
