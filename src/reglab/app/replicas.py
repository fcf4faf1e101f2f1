"""`seeds=N`: N replicas of a configuration as one LightningModule (reglab.replicas.module)
trained by one Lightning Trainer, written as N job folders. `train()` (reglab.app.train)
calls `train_replicas` once the data are loaded, instead of building one RegLabModule.
"""

import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from pydantic import BaseModel
from torch import nn

from reglab import contract
from reglab.app import signals
from reglab.app.checks import has_validation_split, tests_a_checkpoint
from reglab.app.settings import RunConfig
from reglab.callbacks import build_callbacks
from reglab.callbacks.early_stopping import EarlyStopping
from reglab.callbacks.epoch_metrics import EpochMetricsWriter
from reglab.callbacks.replica_checkpoints import ReplicaCheckpoints
from reglab.callbacks.replica_loggers import ReplicaLoggers
from reglab.callbacks.seeding import EpochSeeding
from reglab.config.errors import ConfigError
from reglab.data.base import InMemoryDataModule
from reglab.lit import RegLabModule
from reglab.lit.tasks import Task
from reglab.models.roles import hidden_weight_names
from reglab.outputs.checkpoint_io import BackgroundCheckpointIO
from reglab.regularizers.kinds import REGULARIZERS
from reglab.regularizers.regularization import Regularization
from reglab.regularizers.weight_decay import weight_parameters
from reglab.replicas.batches import ReplicaBatches, limited_batches
from reglab.replicas.checks import CALLBACKS_DONE_PER_REPLICA, NotStackable, stacking_refusal
from reglab.replicas.evaluation import replica_evaluation
from reglab.replicas.folders import replica_overrides
from reglab.replicas.hyper import ReplicaHyper
from reglab.replicas.module import LoopSettings, ReplicaModule
from reglab.replicas.outputs import (
    checkpoint,
    plot_replica_curves,
    replica_loggers,
    save_checkpoint,
    write_hydra_files,
)
from reglab.replicas.stack import StackedNet, build_replicas, check_functional
from reglab.replicas.state import REPLICA, load_run_state
from reglab.run_folder import RunFolder, mark, rebase_paths

log = logging.getLogger("reglab")
# keys run_config() adds to the config for loggers; Hydra's config.yaml has none of them
LOGGED_ONLY = ("choices", "provenance", "init_from")
OptimizerFactory = Callable[[Iterable], torch.optim.Optimizer]
LIMITED_STAGES = ("train", "val", "test")  # trainer.limit_<stage>_batches
# what the replicas' module does itself (an epoch is one Lightning step; Lightning does not
# clip under manual optimization): not given to their Trainer
DONE_BY_THE_MODULE = (
    *(f"limit_{stage}_batches" for stage in LIMITED_STAGES),
    "gradient_clip_val",
    "gradient_clip_algorithm",
)


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


@dataclass(frozen=True)
class Member:
    """One replica of a stack: the single run it stands for (`seeds=N`: the run with seed=k;
    a sweep's pack: one job), where its files go and what makes it differ from the others."""

    seed: int
    folder: RunFolder
    identity: RunIdentity  # its overrides, logged config, run name, group
    checkpoint_config: dict  # the config its checkpoints store (RegLabModule's)
    regularization: Regularization  # builds its network (its own rates at the hooks)
    optimizer: OptimizerFactory  # its own optimizer options (lr, weight decay)
    # its .hydra/ files are written here (seeds=N), not by Hydra's run_job (a sweep's job)
    writes_hydra_files: bool = True


@dataclass
class StackResult:
    """What training a stack left: each member's record, and the stack's wall time."""

    records: list[dict]
    rows_by_seed: dict[int, list[dict]]
    wall: float
    interrupted: BaseException | None = None  # Ctrl-C / SIGTERM: written as of epochs_done
    epochs_done: int = 0


def train_replicas(
    settings: RunConfig,
    datamodule: InMemoryDataModule,
    regularization: Regularization,
    task: Task,
    build_net: Callable[[Regularization], nn.Module],
    optimizer: OptimizerFactory,
    output_dir: Path,
    identity: RunIdentity,
    module_arguments: dict,
    resume_ckpt: Path | None = None,
) -> dict:
    """Trains `settings.seeds` replicas (seeds settings.seed + k) with one Trainer; writes each
    replica's job folder (<output_dir>/seed_<seed>/) and the run's metrics.json; returns that
    record (final metrics: means over the completed replicas).

    `datamodule` is set up ('fit'); `build_net(regularization)` builds one network from the
    global RNG state (it is called right after seeding each replica, as a single run calls it).
    `module_arguments`: RegLabModule's (its hyperparameters), so each replica's checkpoint
    loads with `RegLabModule.load_from_checkpoint` and evaluates with eval.py.

    The run's state is written to <output_dir>/checkpoints/last.ckpt after every validated
    epoch and the last (reglab.replicas.state); `resume_ckpt` (such a file) continues from it
    (Lightning's `fit(ckpt_path=...)`).
    Ctrl-C or SIGTERM writes every replica's files as of that checkpoint, records
    `interrupted` and exits with 1, as a single run does.

    Replicas that cannot be stacked (reglab.replicas.checks) raise NotStackable before
    anything is trained or written."""
    output_dir = Path(output_dir)
    run = RunFolder(output_dir)
    stored_config = settings.model_dump(by_alias=True)
    members = []
    for seed in [settings.seed + k for k in range(settings.seeds)]:
        replica = run.replica(seed)
        member_identity = replace(
            identity,
            overrides=replica_overrides(identity.overrides, seed),
            config=_replica_config(identity.config, seed, output_dir, replica.path),
            group=identity.group or output_dir.name,
        )
        checkpoint_config = _replica_config(stored_config, seed, output_dir, replica.path)
        members.append(
            Member(seed, replica, member_identity, checkpoint_config, regularization, optimizer)
        )
    result = train_stack(
        settings, datamodule, task, members, build_net, run, module_arguments, resume_ckpt
    )
    late = None  # Ctrl-C / SIGTERM once every replica's files are written: the run's go on
    try:
        plot_replica_curves(result.rows_by_seed, run.curves_png, task.name == "regression")
    except KeyboardInterrupt as exc:
        signals.shield()
        late = exc
    summary = run_record(identity, [m.seed for m in members], result.records, run, result.wall)
    run.write_record(summary)
    if late is not None and result.interrupted is None:
        log.warning(
            "Interrupted (%s) after training: every replica's results and the run's "
            "metrics.json are written (not its curves.png) in %s",
            signals.describe(late),
            output_dir,
        )
        sys.exit(1)
    if result.interrupted is not None and result.epochs_done == 0:
        log.warning(
            "Interrupted (%s) before the replicas' first checkpoint: nothing trained is kept "
            "in %s (its records say interrupted); resume=true has nothing to go on from",
            signals.describe(result.interrupted),
            output_dir,
        )
        sys.exit(1)
    if result.interrupted is not None:
        how = signals.describe(result.interrupted)
        log.warning(
            "Interrupted (%s): each replica's checkpoints and metrics as of epoch %d (the last "
            "checkpoint) are in %s; resume=true continues the run",
            how,
            result.epochs_done,
            output_dir,
        )
        sys.exit(1)  # as Lightning exits on Ctrl-C
    return summary


def _check_members(members: list[Member], task: str, hidden_layers: int) -> None:
    """Each member's regularizers' refusals, as its single run checks them (the module built
    below checks the first member's only). Refused by all (`seeds=N`): the run's error. By
    some of a pack's jobs only (label smoothing on a regression set beside jobs without
    it): the pack's jobs run one by one, so that those fail as their single runs do rather
    than train as the first job's configuration, and the others train."""
    refusals: list[tuple[Member, ConfigError]] = []
    for member in members:
        try:
            member.regularization.check(task, hidden_layers)
        except ConfigError as exc:
            refusals.append((member, exc))
    if len(refusals) == len(members):
        raise refusals[0][1]
    if refusals:
        member, exc = refusals[0]
        raise NotStackable(f"job {member.folder.path.name} is refused ({exc})")


def train_stack(
    settings: RunConfig,
    datamodule: InMemoryDataModule,
    task: Task,
    members: list[Member],
    build_net: Callable[[Regularization], nn.Module],
    run: RunFolder,
    module_arguments: dict,
    resume_ckpt: Path | None = None,
    what: str | None = None,
) -> StackResult:
    """Trains `members` stacked, with one Trainer (`settings`: the first member's; the others
    differ from it only in what their regularizers and optimizer declare per replica:
    reglab.replicas.packing), and writes each member's job folder; the stack's own state goes
    to `run` (its checkpoints/last.ckpt, for resume)."""
    if (reason := stacking_refusal(settings)) is not None:
        raise NotStackable(reason)
    seeds = [m.seed for m in members]
    device = device_for(settings.hardware.accelerator)
    nets = build_replicas(lambda k: build_net(members[k].regularization), seeds)
    weight_ids = {id(p) for p in weight_parameters(nets[0])}
    names = {id(p): name for name, p in nets[0].named_parameters()}
    weight_names = [names[i] for i in names if i in weight_ids]
    hidden_names = hidden_weight_names(nets[0])
    _check_members(members, datamodule.info.task, len(hidden_names))
    groups = members[0].regularization.parameter_groups(nets[0])
    # each member's own optimizer over its own net: what its groups' options are
    own_optimizers = [
        m.optimizer(m.regularization.parameter_groups(net))
        for m, net in zip(members, nets, strict=True)
    ]
    group_options, hyper = ReplicaHyper.from_optimizers(own_optimizers, device)
    # the module a checkpoint must load into: its metric states and key names
    module = RegLabModule(**module_arguments)
    module_state = {k: v for k, v in module.state_dict().items() if not k.startswith("net.")}
    net_prefix = _net_prefix(module, nets[0])
    stored = dict(module.hparams)  # what a single run's checkpoint stores, its config once
    regularization = stacked_regularization(members, device)

    stacked = StackedNet(nets, device)
    datamodule.splits = datamodule.splits.to(device)
    splits = datamodule.splits
    check_functional(stacked, datamodule.prepare_inputs(splits.x_train[:2]))
    if settings.hardware.compile:
        stacked.compile()
    stacked_groups = [
        {**g, **options, "params": [stacked.params[names[id(p)]] for p in g["params"]]}
        for g, options in zip(groups, group_options, strict=True)
    ]
    trainer_keys = settings.trainer.model_extra or {}
    limits = {stage: trainer_keys.get(f"limit_{stage}_batches") for stage in LIMITED_STAGES}
    # limit_val_batches=0: no validation loop, as a single run's Trainer runs none
    validation = has_validation_split(settings.dataset) and limits["val"] != 0
    val_is_test = datamodule.info.val_is_test or not validation
    batches = ReplicaBatches(splits.x_train, splits.y_train, datamodule.batch_size, seeds)
    callbacks = settings.callbacks
    optimizer = members[0].optimizer
    module = ReplicaModule(
        stacked,
        task,
        regularization,
        lambda groups: _fast_optimizer(optimizer, groups),
        stacked_groups,
        batches,
        replica_evaluation(
            stacked, task, splits, datamodule.eval_batch_size, datamodule.prepare_inputs, limits
        ),
        datamodule.prepare_inputs,
        weight_names,
        LoopSettings(
            max_epochs=settings.trainer.max_epochs,
            train_batches=limited_batches(batches.num_batches, limits["train"], "train"),
            gradient_clip_val=trainer_keys.get("gradient_clip_val"),
            gradient_clip_algorithm=trainer_keys.get("gradient_clip_algorithm") or "norm",
        ),
        hidden_names,
        seeds,
        _augments(regularization, seeds),
        hyper=hyper,
        data=datamodule,
        folders=[m.folder.path for m in members],
    )
    run_ckpt = run.last_ckpt  # the stack's checkpoint: what resume=true continues from
    checkpoints = _checkpoints(settings, task, val_is_test, run_ckpt)
    keep_best = checkpoints.keeps_best  # each replica's best.ckpt, as its single run's
    if resume_ckpt is not None:
        done = load_run_state(resume_ckpt, seeds)["epochs_done"]
        log.info("Continuing %d replicas after epoch %d", len(seeds), done)
    else:
        what = what or f"{len(seeds)} replicas (seeds {_seed_list(seeds)})"
        log.info("Training %s in one loop", what)
    # each member's metrics.csv, written as it trains (the records below are made of its rows)
    folders = [m.folder.path for m in members]
    writer = EpochMetricsWriter(run.path, replica_dirs=folders, **_writer_options(callbacks))
    # each member's loggers, live (its own W&B run, ...): fed the writer's rows as they come
    logging_ = ReplicaLoggers(writer, [_member_loggers(settings, m) for m in members])
    try:
        # the regularizers' (early stopping: each replica stops on its own)
        regularizer_callbacks = _regularizer_callbacks(members, regularization)
        per_replica = [writer, logging_, *regularizer_callbacks, checkpoints]
        trainer = _trainer(settings, task, validation, per_replica)

        start = time.perf_counter()
        interrupted: BaseException | None = None
        tested: dict[str, torch.Tensor] = {}
        tested_ckpt = "last weights"
        try:
            trainer.fit(module, ckpt_path=str(resume_ckpt) if resume_ckpt is not None else None)
            module.to(device)  # Lightning's teardown leaves the module on the CPU
            if settings.test and limits["test"] != 0:  # limit 0: Lightning's test loop runs nothing
                # the single run's choice: the best weights, or the last
                reads_checkpoint = tests_a_checkpoint(settings.test_ckpt, val_is_test)
                best = reads_checkpoint and keep_best
                weights = checkpoints.best_weights() if best else None
                module.test_params, module.test_buffers = weights or (None, None)
                # through Lightning's test loop: instruments' test hooks see every replica
                trainer.test(module, verbose=False)
                module.to(device)  # (its teardown again)
                tested = module.test_values
                if best:
                    tested_ckpt = contract.BEST
                elif reads_checkpoint and _entries(settings).get("last_checkpoint") is not None:
                    tested_ckpt = contract.LAST  # (a single run names its last.ckpt then)
        except (KeyboardInterrupt, SystemExit) as exc:  # Ctrl-C, or SIGTERM (reglab.app.signals)
            if isinstance(exc, SystemExit) and not trainer.interrupted:
                raise
            signals.shield()
            interrupted, tested = exc, {}
            module.load_loop_state(module.last_state)  # the last checkpoint: what is written
            writer.rewind()
            checkpoints.rewind(device)
        wall = round(time.perf_counter() - start, 3)
        state = module.last_state

        def write_results() -> list[dict]:
            """Each member's folder; their records."""
            records = []
            for k, (member, outcome) in enumerate(zip(members, module.outcomes, strict=True)):
                replica, identity = member.folder, member.identity
                rows = writer.rows_by_replica[k]
                if member.writes_hydra_files:
                    plain = {key: v for key, v in identity.config.items() if key not in LOGGED_ONLY}
                    write_hydra_files(replica, identity.overrides, plain)
                status = outcome.status
                if interrupted is not None and status != contract.DIVERGED:
                    status = contract.INTERRUPTED
                record = mark({}, status, choices=identity.choices, overrides=identity.overrides)
                record.update(tags=list(identity.tags), provenance=identity.provenance)
                record.update(_final_values(rows))
                if (stopping := EarlyStopping.record_among(regularizer_callbacks, k)) is not None:
                    record["early_stopping"] = stopping
                last_epoch = rows[-1]["epoch"] if rows else 0
                hparams = stored | {"config": member.checkpoint_config}
                origin = {REPLICA: {"run": str(run.path), "seed": member.seed}}

                # its last.ckpt; a diverged replica's weights are its last checkpoint's (none:
                # diverged before one)
                saved = []
                weights_epoch = (
                    last_epoch if outcome.weights_epoch is None else outcome.weights_epoch
                )
                if weights_epoch > 0:
                    weights = stacked.replica_state(k, state["params"], state["buffers"])
                    saved.append((replica.last_ckpt, weights, weights_epoch))
                best_epoch = checkpoints.best_epochs[k] if keep_best else None
                if best_epoch is not None:
                    best = stacked.replica_state(k, *checkpoints.best_weights())
                    saved.append((replica.best_ckpt, best, best_epoch))
                for path, weights, epoch in saved:  # as its single run's after that epoch
                    row = next((r for r in rows if r["epoch"] == epoch), rows[-1])
                    states = _metric_states(module_state, row, task.monitor)
                    ckpt = checkpoint(states, weights, epoch, row["step"], hparams, net_prefix)
                    save_checkpoint(path, ckpt | origin)
                if status == contract.DIVERGED:
                    record.update(divergence=outcome.divergence, message=outcome.message)
                elif tested:
                    record.update({key: float(v[k]) for key, v in tested.items()})
                    files = {contract.BEST: replica.best_ckpt, contract.LAST: replica.last_ckpt}
                    record["tested_checkpoint"] = str(files.get(tested_ckpt, tested_ckpt))
                record.update(epochs=last_epoch, wall_seconds=wall, replica_of=str(run.path))
                replica.write_record(record)
                logging_.finish(k, identity.config | {"choices": identity.choices}, record)
                records.append(record)
            return records

        try:
            records = write_results()
        except KeyboardInterrupt as exc:  # the run's checkpoint has it all: resume writes them
            signals.shield()
            how = signals.describe(exc)
            log.warning(
                "Interrupted (%s) while writing the replicas' results: resume=true writes them "
                "from %s",
                how,
                run_ckpt,
            )
            sys.exit(1)
        rows_by_seed = {
            m.seed: rows for m, rows in zip(members, writer.rows_by_replica, strict=True)
        }
        return StackResult(records, rows_by_seed, wall, interrupted, module.epochs_done)
    finally:  # a crash: the replicas' runs are closed as failed (a finished one's already are)
        logging_.close_all(exit_code=1)


def _checkpoints(
    settings: RunConfig, task: Task, val_is_test: bool, run_ckpt: Path
) -> ReplicaCheckpoints:
    """The stack's checkpoints: each replica's best by the monitor, mode and interval of
    the best-checkpoint callback its single run builds (callbacks.model_checkpoint, through
    build_callbacks: the task's monitor by default, none where the validation split is the
    test split or the entry is null); the stack's own after every validated epoch."""
    entries = _entries(settings)
    entry = entries.get("model_checkpoint")
    built = build_callbacks({"model_checkpoint": entry}, task, val_is_test) if entry else []
    best = next((c for c in built if isinstance(c, ModelCheckpoint) and c.monitor), None)
    trainer_keys = settings.trainer.model_extra or {}
    every_validation = trainer_keys.get("check_val_every_n_epoch") or 1
    if best is None:
        return ReplicaCheckpoints(run_ckpt, None, save_every_n_epochs=every_validation)
    every = entry.arguments().get("every_n_epochs") or 1
    return ReplicaCheckpoints(run_ckpt, best.monitor, best.mode, every, every_validation)


def _entries(settings: RunConfig) -> dict:
    """The typed `callbacks` entries by name (none: callbacks=null)."""
    return settings.callbacks.entries() if settings.callbacks is not None else {}


def _member_loggers(settings: RunConfig, member: Member) -> list:
    """The member's loggers: the first member's settings' (a pack's first job's, a `seeds=N`
    run's) moved from its folder to the member's, under its own name and config."""
    identity = member.identity
    return replica_loggers(
        settings.logger,
        Path(settings.paths.output_dir),
        member.folder.path,
        identity.config | {"choices": identity.choices},
        identity.run_name,
        identity.group,
        identity.tags,
    )


def _regularizer_callbacks(members: list[Member], regularization: Regularization) -> list:
    """The regularizers' callbacks for the stack: the first member's, but where a callback
    acts on each replica with its own settings (`for_replicas`: early stopping's patience in
    a pack), one built from every member's own."""
    first = regularization.callbacks()
    if len(members) == 1 or all(m.regularization is members[0].regularization for m in members):
        return first  # (seeds=N: one configuration)
    each = [m.regularization.callbacks() for m in members]
    return [
        type(c).for_replicas([own[i] for own in each]) if hasattr(c, "for_replicas") else c
        for i, c in enumerate(first)
    ]


def stacked_regularization(members: list[Member], device) -> Regularization:
    """The first member's regularization, with a tensor over the replicas for each key that
    a regularizer declares `per_replica` and whose value differs between members (a pack)."""
    first = members[0].regularization
    values = {}
    for regularizer in REGULARIZERS:
        for key in regularizer.per_replica:
            per_member = [getattr(m.regularization.cfg, key) for m in members]
            if all(v == per_member[0] for v in per_member):
                continue
            if isinstance(per_member[0], BaseModel):  # settings: its callbacks, per member
                continue
            values[key] = torch.tensor(per_member, dtype=torch.float32, device=device)
    if not values:
        return first
    return Regularization(first.cfg, first.model, values)


def _seed_list(seeds: list[int]) -> str:
    consecutive = seeds == list(range(seeds[0], seeds[0] + len(seeds)))
    return (
        f"{seeds[0]}..{seeds[-1]}" if consecutive and len(seeds) > 1 else ", ".join(map(str, seeds))
    )


def _net_prefix(module: RegLabModule, net: nn.Module) -> str:
    """Where the module's state dict keeps the network's tensors: `net.`, or `net._orig_mod.`
    where hardware.compile wrapped it (torch.compile's module), as a single run's checkpoint
    holds them: the replica's checkpoint must load into that module."""
    first = next(iter(net.state_dict()))
    key = next(k for k in module.state_dict() if k.startswith("net.") and k.endswith(first))
    return key[: -len(first)]


def _metric_states(module_state: dict, row: dict, monitor: str) -> dict:
    """RegLabModule's metric states (its state dict's) as its single run's checkpoint after the
    row's epoch holds them: the running best of the task's monitor (`<monitor>_best`) and the
    largest training-batch loss (`train/loss_max`), from the replica's metrics row."""
    states = dict(module_state)
    for metric, column in (
        ("best_metric.", f"{monitor}_best"),
        ("train_loss_max.", "train/loss_max"),
    ):
        if column not in row:
            continue
        for name, value in module_state.items():
            if name.startswith(metric):
                states[name] = torch.tensor(row[column], dtype=value.dtype)
    return states


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


def _trainer(
    settings: RunConfig, task: Task, validation: bool, per_replica: list[L.Callback]
) -> L.Trainer:
    """Lightning's Trainer for the replicas: the run's trainer keys and its callbacks but those
    the module does per replica (checks.CALLBACKS_DONE_PER_REPLICA), `per_replica` (callbacks
    that act on each replica: reglab.callbacks.per_replica), no logger (each replica logs to
    its own: ReplicaLoggers), the run's checkpoint written by the module."""
    arguments = {
        k: v
        for k, v in settings.trainer.arguments().items()
        if v is not None and k not in DONE_BY_THE_MODULE
    }
    no_validation = {} if validation else {"limit_val_batches": 0}
    entries = _entries(settings)
    extra = {k: v for k, v in entries.items() if k not in CALLBACKS_DONE_PER_REPLICA}
    return instantiate(
        {"_target_": settings.trainer.target, **arguments, **no_validation},
        callbacks=[
            EpochSeeding(settings.seed),
            *per_replica,
            *build_callbacks(extra, task, not validation),
        ],
        logger=False,
        enable_checkpointing=True,  # (ReplicaCheckpoints: the stack's and its replicas')
        enable_progress_bar=False,
        enable_model_summary=False,
        # the run's state (every replica's weights and optimizer state) is written to disk
        # while the next epochs train
        plugins=[BackgroundCheckpointIO()],
    )


def _writer_options(callbacks) -> dict:
    """callbacks.epoch_metrics' options but its folder (the replicas' writer is given theirs;
    it writes even when the entry is null: each replica's record is made of its rows)."""
    entry = callbacks.epoch_metrics if callbacks is not None else None
    options = entry.arguments() if entry is not None else {}
    return {k: v for k, v in options.items() if k in ("filename", "write_every_s")}


def _augments(regularization: Regularization, seeds: list[int]) -> list | None:
    """regularizer=augment: one augmentation per replica, seeded as its single run's."""
    augments = [regularization.augmentation(seed) for seed in seeds]
    return None if augments[0] is None else augments


def device_for(accelerator: str) -> torch.device:
    """The device stacked replicas train on (a pack's memory is measured on it too)."""
    if accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    if accelerator == "mps":
        return torch.device("mps")
    return torch.device("cpu")


def _replica_config(config: dict, seed: int, run_dir: Path, folder: Path) -> dict:
    """The config of the single run replica k stands for: seed=k, seeds=1, and every path in
    the run's folder (its output_dir, checkpoints' dirpath, loggers' save_dir, ...) in the
    replica's."""
    config = rebase_paths(dict(config), {str(run_dir): str(folder)})
    config.update(seed=seed, seeds=1)
    return config


def _final_values(rows: list[dict]) -> dict:
    """The final metrics a single run's record holds: the last epoch's train/ values and the
    last validation's val/ values."""
    values: dict = {}
    for row in rows:
        values.update({k: v for k, v in row.items() if "/" in k})
    return dict(sorted(values.items()))


def run_record(identity, seeds, records, run: RunFolder, wall) -> dict:
    """The run folder's own metrics.json: the replicas, their statuses, and the mean of each
    final metric over the completed ones (what a sweeper optimising this job sees).
    (`records`: the replicas' own, one per seed; `identity`: a RunIdentity.)"""
    statuses = [r["status"] for r in records]
    # an interrupted run's means are those of its replicas so far (stacked, all interrupted;
    # in turn, the completed ones and the one interrupted); a finished run's are the
    # completed replicas'. A replica that crashed (in turn) counts as none of them.
    if contract.INTERRUPTED in statuses:
        status, counted_statuses = contract.INTERRUPTED, (contract.INTERRUPTED, contract.COMPLETED)
    elif contract.COMPLETED in statuses:
        status, counted_statuses = contract.COMPLETED, (contract.COMPLETED,)
    else:
        every_diverged = all(s == contract.DIVERGED for s in statuses)
        status, counted_statuses = (contract.DIVERGED if every_diverged else contract.FAILED), ()
    counted = [r for r in records if r["status"] in counted_statuses]
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
