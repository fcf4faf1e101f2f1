"""`seeds=N`: N replicas of a configuration as one LightningModule (reglab.replicas.module)
trained by one Lightning Trainer, written as N job folders. `train()` (reglab.app.train)
calls `train_replicas` once the data are loaded, instead of building one RegLabModule.
"""

import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from torch import nn

from reglab import contract
from reglab.app import signals
from reglab.app.checks import has_validation_split
from reglab.app.settings import RunConfig
from reglab.callbacks import build_callbacks
from reglab.callbacks.seeding import EpochSeeding
from reglab.data.base import InMemoryDataModule
from reglab.lit import RegLabModule
from reglab.lit.tasks import Task
from reglab.models.roles import hidden_weight_names
from reglab.outputs.checkpoint_io import AtomicCheckpointIO
from reglab.regularizers.regularization import Regularization
from reglab.regularizers.weight_decay import weight_parameters
from reglab.replicas.batches import ReplicaBatches
from reglab.replicas.checks import CALLBACKS_DONE_PER_REPLICA, check_settings
from reglab.replicas.evaluation import replica_evaluation
from reglab.replicas.folders import replica_overrides
from reglab.replicas.module import LoopSettings, ReplicaModule
from reglab.replicas.outputs import (
    checkpoint,
    plot_replica_curves,
    replay_to_loggers,
    save_checkpoint,
    write_artifacts,
    write_hydra_files,
    write_metrics_csv,
)
from reglab.replicas.stack import StackedNet, build_replicas, check_functional
from reglab.replicas.state import REPLICA, load_run_state
from reglab.run_folder import RunFolder, mark

log = logging.getLogger("reglab")
# keys run_config() adds to the config for loggers; Hydra's config.yaml has none of them
LOGGED_ONLY = ("choices", "provenance", "init_from")
OptimizerFactory = Callable[[Iterable], torch.optim.Optimizer]


@dataclass(frozen=True)
class RunIdentity:
    """What names the run in its records and loggers (train.py computes all of it)."""

    choices: dict[str, str]
    overrides: list[str]  # the job's own, with `seeds=N`
    config: dict  # the logged config (run_config(): choices, provenance, the plain config)
    run_name: str
    group: str | None = None  # the W&B group; None: the run's folder name
    tags: list[str] = field(default_factory=list)
    provenance: dict | None = None


def train_replicas(
    settings: RunConfig,
    datamodule: InMemoryDataModule,
    regularization: Regularization,
    task: Task,
    build_net: Callable[[], nn.Module],
    optimizer: OptimizerFactory,
    output_dir: Path,
    identity: RunIdentity,
    module_arguments: dict,
    resume_ckpt: Path | None = None,
) -> dict:
    """Trains `settings.seeds` replicas (seeds settings.seed + k) with one Trainer; writes each
    replica's job folder (<output_dir>/seed_<seed>/) and the run's metrics.json; returns that
    record (final metrics: means over the completed replicas).

    `datamodule` is set up ('fit'); `build_net()` builds one network from the global RNG
    state (it is called right after seeding each replica, as a single run calls it).
    `module_arguments`: RegLabModule's (its hyperparameters), so each replica's checkpoint
    loads with `RegLabModule.load_from_checkpoint` and evaluates with eval.py.

    The run's state is written to <output_dir>/checkpoints/last.ckpt after every validated
    epoch and the last (reglab.replicas.state); `resume_ckpt` (such a file) continues from it
    (Lightning's `fit(ckpt_path=...)`).
    Ctrl-C or SIGTERM writes every replica's files as of that checkpoint, records
    `interrupted` and exits with 1, as a single run does."""
    check_settings(settings)
    output_dir = Path(output_dir)
    seeds = [settings.seed + k for k in range(settings.seeds)]
    device = _device(settings.hardware.accelerator)
    nets = build_replicas(build_net, seeds)
    weight_ids = {id(p) for p in weight_parameters(nets[0])}
    names = {id(p): name for name, p in nets[0].named_parameters()}
    weight_names = [names[i] for i in names if i in weight_ids]
    hidden_names = hidden_weight_names(nets[0])
    groups = regularization.parameter_groups(nets[0])
    # the module a checkpoint must load into: its metric states and key names
    module = RegLabModule(**module_arguments)
    module_state = {k: v for k, v in module.state_dict().items() if not k.startswith("net.")}
    net_prefix = _net_prefix(module, nets[0])
    stored = dict(module.hparams)  # what a single run's checkpoint stores, its config once

    stacked = StackedNet(nets, device)
    datamodule.splits = datamodule.splits.to(device)
    splits = datamodule.splits
    check_functional(stacked, datamodule.prepare_inputs(splits.x_train[:2]))
    if settings.hardware.compile:
        stacked.compile()
    stacked_groups = [
        {**g, "params": [stacked.params[names[id(p)]] for p in g["params"]]} for g in groups
    ]
    validation = has_validation_split(settings.dataset)
    val_is_test = datamodule.info.val_is_test or not validation
    keep_best = not val_is_test  # a best.ckpt, as a single run's checkpoint callback keeps
    callbacks = settings.callbacks
    guard = callbacks.divergence_guard if callbacks is not None else None
    module = ReplicaModule(
        stacked,
        task,
        regularization,
        lambda groups: _fast_optimizer(optimizer, groups),
        stacked_groups,
        ReplicaBatches(splits.x_train, splits.y_train, datamodule.batch_size, seeds),
        replica_evaluation(
            stacked, task, splits, datamodule.eval_batch_size, datamodule.prepare_inputs
        ),
        datamodule.prepare_inputs,
        weight_names,
        LoopSettings(
            max_epochs=settings.trainer.max_epochs,
            check_val_every_n_epoch=(settings.trainer.model_extra or {}).get(
                "check_val_every_n_epoch", 1
            ),
            validation=validation,
            keep_best=keep_best,
            early_stopping=settings.regularizer.early_stopping,
            max_grad_norm=guard.max_grad_norm if guard is not None else None,
        ),
        hidden_names,
        seeds,
        _augments(regularization, seeds),
    )
    run = RunFolder(output_dir)
    run_ckpt = run.last_ckpt
    module.checkpoint_path = run_ckpt  # what resume=true continues from
    if resume_ckpt is not None:
        done = load_run_state(resume_ckpt, seeds)["epochs_done"]
        log.info("Continuing %d replicas after epoch %d", len(seeds), done)
    else:
        log.info("Training %d replicas (seeds %d..%d) in one loop", len(seeds), seeds[0], seeds[-1])
    trainer = _trainer(settings, task, validation)

    start = time.perf_counter()
    interrupted: BaseException | None = None
    tested: dict[str, torch.Tensor] = {}
    tested_ckpt = "last weights"
    try:
        trainer.fit(module, ckpt_path=str(resume_ckpt) if resume_ckpt is not None else None)
        module.to(device)  # Lightning's teardown leaves the module on the CPU
        module.early_stopping_records()
        if settings.test:
            best = settings.test_ckpt in ("auto", contract.BEST) and keep_best
            if best:  # the best epoch's weights and running statistics: best.ckpt's
                tested = module.evaluate("test", module.best_params, module.best_buffers)
            else:
                tested = module.evaluate("test")
            tested_ckpt = contract.BEST if best else tested_ckpt
    except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C, or SIGTERM (reglab.app.signals)
        if isinstance(exc, SystemExit) and not trainer.interrupted:
            raise
        signals.shield()
        interrupted, tested = exc, {}
        module.load_loop_state(module.last_state)  # the last checkpoint: what is written
    wall = round(time.perf_counter() - start, 3)
    state = module.last_state

    def write_results() -> dict:
        """Each replica's folder, then the run's metrics.json (its record, returned)."""
        records = []
        for k, (seed, outcome) in enumerate(zip(seeds, module.outcomes, strict=True)):
            replica = run.replica(seed)
            folder = replica.path
            overrides = replica_overrides(identity.overrides, seed)
            config = _replica_config(identity.config, seed, folder)
            plain = {key: v for key, v in config.items() if key not in LOGGED_ONLY}
            write_hydra_files(replica, overrides, plain)
            status = outcome.status
            if interrupted is not None and status != contract.DIVERGED:
                status = contract.INTERRUPTED
            record = mark({}, status, choices=identity.choices, overrides=overrides)
            record.update(tags=list(identity.tags), provenance=identity.provenance)
            record.update(_final_values(outcome.rows))
            if outcome.early_stopping is not None:
                record["early_stopping"] = outcome.early_stopping
            last_epoch = outcome.rows[-1]["epoch"] if outcome.rows else 0
            last_step = outcome.rows[-1]["step"] if outcome.rows else 0
            hparams = stored | {"config": _replica_config(stored["config"], seed, folder)}
            origin = {REPLICA: {"run": str(output_dir), "seed": seed}}
            # a diverged replica's weights are its last checkpoint's (none: diverged before one)
            weights_epoch = last_epoch if outcome.weights_epoch is None else outcome.weights_epoch
            if weights_epoch > 0:
                weights = stacked.replica_state(k, state["params"], state["buffers"])
                step = _step_after(outcome.rows, weights_epoch, last_step)
                ckpt = checkpoint(module_state, weights, weights_epoch, step, hparams, net_prefix)
                save_checkpoint(replica.last_ckpt, ckpt | origin)
            if keep_best and outcome.best_epoch is not None:
                best_state = stacked.replica_state(k, state["best_params"], state["best_buffers"])
                best_step = _step_after(outcome.rows, outcome.best_epoch, last_step)
                ckpt = checkpoint(
                    module_state, best_state, outcome.best_epoch, best_step, hparams, net_prefix
                )
                save_checkpoint(replica.best_ckpt, ckpt | origin)
            if interrupted is None:
                artifacts = callbacks.artifacts if callbacks is not None else None
                write_artifacts(artifacts, nets[k], stacked.replica_state(k), datamodule, folder)
            if status == contract.DIVERGED:
                record.update(divergence=outcome.divergence, message=_divergence_message(outcome))
            elif tested:
                record.update({key: float(v[k]) for key, v in tested.items()})
                record["tested_checkpoint"] = (
                    str(replica.best_ckpt) if tested_ckpt == contract.BEST else tested_ckpt
                )
            record.update(epochs=last_epoch, wall_seconds=wall, replica_of=str(output_dir))
            write_metrics_csv(replica, outcome.rows)
            replica.write_record(record)
            if interrupted is None:  # logger runs are written from finished replicas' rows
                replay_to_loggers(
                    settings.logger,
                    Path(settings.paths.output_dir),
                    folder,
                    config | {"choices": identity.choices},
                    identity.run_name,
                    identity.group or output_dir.name,
                    identity.tags,
                    outcome.rows,
                    record,
                )
            records.append(record)
        rows_by_seed = {seed: o.rows for seed, o in zip(seeds, module.outcomes, strict=True)}
        plot_replica_curves(rows_by_seed, run.curves_png, task.name == "regression")
        summary = _run_record(identity, seeds, records, run, wall)
        run.write_record(summary)
        return summary

    try:
        summary = write_results()
    except KeyboardInterrupt as exc:  # the run's checkpoint has it all: resume writes them
        signals.shield()
        how = signals.describe(exc)
        log.warning(
            "Interrupted (%s) while writing the replicas' results: resume=true writes them from %s",
            how,
            run_ckpt,
        )
        sys.exit(1)
    if interrupted is not None:
        how = signals.describe(interrupted)
        log.warning(
            "Interrupted (%s): each replica's checkpoints and metrics as of epoch %d (the last "
            "checkpoint) are in %s; resume=true continues the run",
            how,
            module.epochs_done,
            output_dir,
        )
        sys.exit(1)  # as Lightning exits on Ctrl-C
    return summary


def _net_prefix(module: RegLabModule, net: nn.Module) -> str:
    """Where the module's state dict keeps the network's tensors: `net.`, or `net._orig_mod.`
    where hardware.compile wrapped it (torch.compile's module), as a single run's checkpoint
    holds them: the replica's checkpoint must load into that module."""
    first = next(iter(net.state_dict()))
    key = next(k for k in module.state_dict() if k.startswith("net.") and k.endswith(first))
    return key[: -len(first)]


def _step_after(rows: list[dict], epoch: int, default: int) -> int:
    """The global step at the end of `epoch` (1-based), from a replica's rows."""
    return next((r["step"] for r in rows if r["epoch"] == epoch), default)


def _fast_optimizer(factory: OptimizerFactory, groups: list[dict]) -> torch.optim.Optimizer:
    """The optimizer in its fused implementation where torch has one (SGD, Adam, AdamW on
    CPU and CUDA), else its foreach one: on stacked tensors the per-tensor loop of the default
    implementation costs as much as the model's backward pass. The same update rule (the
    one-epoch equivalence test holds it to 1e-5)."""
    for option in ({"fused": True}, {"foreach": True}):
        try:
            return factory(groups, **option)
        except (TypeError, RuntimeError, ValueError):  # no such option, or not on this device
            continue
    return factory(groups)


def _trainer(settings: RunConfig, task: Task, validation: bool) -> L.Trainer:
    """Lightning's Trainer for the replicas: the run's trainer keys and its callbacks but those
    the module does per replica (checks.CALLBACKS_DONE_PER_REPLICA), no logger (each replica's
    runs are written from its rows), the run's checkpoint written by the module."""
    arguments = {k: v for k, v in settings.trainer.arguments().items() if v is not None}
    no_validation = {} if validation else {"limit_val_batches": 0}
    entries = settings.callbacks.entries() if settings.callbacks is not None else {}
    extra = {k: v for k, v in entries.items() if k not in CALLBACKS_DONE_PER_REPLICA}
    return instantiate(
        {"_target_": settings.trainer.target, **arguments, **no_validation},
        callbacks=[EpochSeeding(settings.seed), *build_callbacks(extra, task, not validation)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
    )


def _augments(regularization: Regularization, seeds: list[int]) -> list | None:
    """regularizer=augment: one augmentation per replica, seeded as its single run's."""
    augments = [regularization.augmentation(seed) for seed in seeds]
    return None if augments[0] is None else augments


def _device(accelerator: str) -> torch.device:
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    if accelerator == "mps":
        return torch.device("mps")
    return torch.device("cpu")


def _replica_config(config: dict, seed: int, folder: Path) -> dict:
    """The logged config of the single run replica k stands for: seed=k, seeds=1, its folder."""
    config = dict(config)
    config.update(seed=seed, seeds=1)
    if isinstance(config.get("paths"), dict):
        config["paths"] = config["paths"] | {"output_dir": str(folder)}
    return config


def _final_values(rows: list[dict]) -> dict:
    """The final metrics a single run's record holds: the last epoch's train/ values and the
    last validation's val/ values."""
    values: dict = {}
    for row in rows:
        values.update({k: v for k, v in row.items() if "/" in k})
    return dict(sorted(values.items()))


def _divergence_message(outcome) -> str:
    d = outcome.divergence
    what = {"loss": "training loss is not finite", "grad_norm": "gradient norm exploded"}[d["kind"]]
    return f"Diverged: {what}: {d['value']:g} at epoch {d['epoch']}, step {d['step']}"


def _run_record(identity, seeds, records, run: RunFolder, wall) -> dict:
    """The run folder's own metrics.json: the replicas, their statuses, and the mean of each
    final metric over the completed ones (what a sweeper optimising this job sees)."""
    statuses = [r["status"] for r in records]
    # an interrupted run's replicas are all interrupted (or diverged): its means are theirs
    # so far; a finished run's are the completed replicas'
    if contract.INTERRUPTED in statuses:
        status = contract.INTERRUPTED
    else:
        status = contract.COMPLETED if contract.COMPLETED in statuses else contract.DIVERGED
    counted = [r for r in records if r["status"] == status != contract.DIVERGED]
    means = {}
    for key in sorted({k for r in counted for k in r if "/" in k}):
        values = [r[key] for r in counted if isinstance(r.get(key), float)]
        if values:
            means[key] = sum(values) / len(values)
    return mark(
        {},
        status,
        choices=identity.choices,
        overrides=identity.overrides,
        tags=list(identity.tags),
        provenance=identity.provenance,
        seeds=seeds,
        replicas=[str(run.replica(s).path.name) for s in seeds],
        replica_status=statuses,
        **means,
        epochs=max((r["epochs"] for r in records), default=0),
        wall_seconds=wall,
    )
