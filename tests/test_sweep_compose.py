"""reglab.config.sweep_compose: a sweep's jobs that differ only in plain values are copies of
one composed config, equal to what Hydra composes for each (hydra/launcher=stacked)."""

import copy

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import OmegaConf

from reglab.config.resolvers import CONFIG_DIR
from reglab.config.sweep_compose import SweepComposer

TOY = ["experiment=toy1d_weight_decay", "logger=csv"]
# (the jobs' overrides, how many configs Hydra composes when they come twice, as the basic
# sweeper checks a batch and the launcher runs it: one per kind of job)
BATCHES = {
    "values": (
        [
            [*TOY, f"regularizer.weight_decay={wd}", f"seed={s}"]
            for wd in (0, 0.01, 1)
            for s in (0, 1)
        ],
        1,
    ),
    "groups": (
        [[f"optimizer={o}", f"optimizer.lr={lr}"] for o in ("sgd", "adam") for lr in (0.1, 0.2)],
        2,
    ),
    "strings_and_null": (
        [
            ["task_name=a", "ckpt_path=null"],
            ["task_name=b c", "ckpt_path=/x.ckpt"],
            ["task_name='${seed}'", "ckpt_path=null"],
        ],
        1,
    ),
    # composed by Hydra: a list value, a new key, a value in a dict; a key set twice, each
    # time (the second job's value is not the last one set)
    "by_hydra": (
        [
            ["model.hidden=[8]"],
            ["model.hidden=[8,8]"],
            ["+note=1"],
            ["+note=2"],
            ["seed=1", "seed=2"],
            ["seed=1", "seed=3"],
            ["model={hidden:[4]}", "model.hidden=[4,4]"],
        ],
        8,
    ),
}


@pytest.fixture
def sweep(tmp_path):
    """Hydra's config loader and a multirun's master config, as `train.py -m` makes them."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(
            "train",
            ["hydra/launcher=stacked", f"hydra.sweep.dir={tmp_path}", "seed=0,1"],
            run_mode=RunMode.MULTIRUN,
        )
        yield loader, master
    GlobalHydra.instance().clear()


def _resolved_sweep_dir(config) -> str:
    config = copy.deepcopy(config)
    HydraConfig.instance().set_config(config)
    return str(config.hydra.sweep.dir)


@pytest.mark.parametrize("batch", BATCHES)
def test_jobs_of_one_kind_are_copies_equal_to_hydras_configs(sweep, batch):
    loader, master = sweep
    jobs, composed = BATCHES[batch]
    composer = SweepComposer(loader)
    for _ in range(2):  # the sweeper's check of the batch, then the launcher
        for overrides in jobs:
            ours = composer.load_sweep_config(master, overrides)
            theirs = loader.load_sweep_config(master, overrides)
            assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(theirs), overrides
            assert OmegaConf.is_struct(ours) and not OmegaConf.is_readonly(ours.hydra)
            assert (
                _resolved_sweep_dir(ours)
                == _resolved_sweep_dir(theirs)
                == str(master.hydra.sweep.dir)
            )
    assert composer.composed == composed


def test_a_value_hydra_refuses_raises_hydras_error(sweep):
    loader, master = sweep
    composer = SweepComposer(loader)
    composer.load_sweep_config(master, ["seed=1"])
    for bad in (["sed=1"], ["seed=1,2"], ["seed=1", "seed=${"]):  # no such key, a sweep, unreadable
        with pytest.raises(HydraException) as ours:
            composer.load_sweep_config(master, bad)
        with pytest.raises(HydraException) as theirs:
            loader.load_sweep_config(master, bad)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
    assert composer.composed == 1


@pytest.mark.parametrize(("launcher", "composed"), [("stacked", 1), ("basic", 8)])
def test_a_stacked_sweep_composes_each_kind_of_job_once(tmp_path, monkeypatch, launcher, composed):
    """4 jobs of one kind: Hydra composes one config (the basic launcher: each job's, twice)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    from .conftest import run_main

    calls = []
    hydras = ConfigLoaderImpl.load_sweep_config

    def counted(self, master_config, sweep_overrides):
        calls.append(list(sweep_overrides))
        return hydras(self, master_config, sweep_overrides)

    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", counted)
    sweep = ["-m", "dataset=toy1d", "model.hidden=[4]", "trainer.max_epochs=1", "logger=csv"]
    sweep += ["regularizer.weight_decay=0,0.01", "seed=0,1", f"hydra.sweep.dir={tmp_path}"]
    result = run_main([*sweep, f"hydra/launcher={launcher}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(calls) == composed
    assert len(list(tmp_path.glob("*/metrics.json"))) == 4


def test_a_hydra_without_its_private_dirname_helper_composes_every_job(monkeypatch):
    """SweepComposer needs Hydra's private `get_overrides_dirname`: a Hydra that moved it
    keeps its own loader (every job composed by Hydra), never a copy rendered otherwise."""
    from types import SimpleNamespace

    from reglab.config import sweep_compose

    context = SimpleNamespace(config_loader=object())
    loader = context.config_loader
    monkeypatch.setattr(sweep_compose, "get_overrides_dirname", None)
    assert sweep_compose.compose_once(context) is loader and context.config_loader is loader
    monkeypatch.undo()
    assert isinstance(sweep_compose.compose_once(context), sweep_compose.SweepComposer)
