"""A pack: several jobs of a sweep trained as stacked replicas in one pass (hydra/launcher=
stacked, which decides what packs together: reglab.replicas.packing). Each job's folder gets
what the basic launcher's job would leave (reglab.app.replicas writes them) but its own
curves.png, as a `seeds=N` replica's: a figure costs ~0.5-1 s of matplotlib, as much as
training a small job, and the sweep report's curves_by_config.png draws every job's curves.
The pack's own state (for resume) lives in the sweep folder's .packs/<name>/ until every
job is written.
"""

import contextlib
import hashlib
import logging
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import lightning as L

from reglab.app.build import build_data, module_arguments
from reglab.app.job_info import JobInfo
from reglab.app.records import record_interrupted
from reglab.app.replicas import Member, device_for, train_stack
from reglab.app.run_folder import set_aside_old_checkpoints
from reglab.app.settings import RunConfig
from reglab.app.train import prepare_machine, run_identity
from reglab.extras.start import start_extras
from reglab.lit.optimizer import optimizer_factory
from reglab.models.build import build_model, model_label
from reglab.regularizers.regularization import Regularization
from reglab.replicas.memory import replica_bytes, replicas_that_fit
from reglab.run_folder import RunFolder

log = logging.getLogger("reglab")


@dataclass(frozen=True)
class PackJob:
    """One job of a pack: its validated settings and what Hydra knows of it."""

    settings: RunConfig
    job: JobInfo


def pack_name(jobs: list[PackJob]) -> str:
    """The same jobs make the same name (a resumed sweep finds its pack's state)."""
    text = "\n".join(" ".join(sorted(j.job.overrides)) for j in jobs)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def train_pack(jobs: list[PackJob], sweep_dir: Path) -> tuple[list[dict], BaseException | None]:
    """Trains the jobs stacked (in parts, when they would not fit in memory together:
    reglab.replicas.memory); returns each job's record (in order) and the interruption
    (Ctrl-C / SIGTERM) that stopped them, if any: their files are written as of the last
    checkpoint, and the pack's state is kept for resume=true."""
    first = jobs[0].settings
    prepare_machine(first)
    folders = [RunFolder(j.settings.paths.output_dir) for j in jobs]
    for folder, job in zip(folders, jobs, strict=True):
        folder.check_writer(job.job.overrides)
    records: list[dict] = []
    with ExitStack() as stack:
        for folder in folders:
            stack.enter_context(folder.writing())
        L.seed_everything(first.seed, workers=True, verbose=False)
        data = build_data(first)
        info = data.info

        def build_net(reg: Regularization):
            return build_model(first.model, info.in_shape, info.num_outputs, reg, info.task)

        size = _parts_of(jobs, data, build_net)
        for start in range(0, len(jobs), size):
            part = jobs[start : start + size]
            part_folders = folders[start : start + size]
            done, interrupted = _train_part(part, part_folders, data, build_net, sweep_dir)
            records += done
            if interrupted is not None:  # the parts not started: interrupted before training
                for job, folder in zip(jobs[len(records) :], folders[len(records) :], strict=True):
                    record_interrupted(folder.path, job.job.overrides)
                    records.append(folder.record())
                return records, interrupted
    return records, None


def _parts_of(jobs: list[PackJob], data, build_net) -> int:
    """Jobs per part: as many as fit in memory (the pack's size when all do)."""
    settings = jobs[0].settings
    splits = data.datamodule.splits
    batch = data.datamodule.prepare_inputs(splits.x_train[: data.datamodule.batch_size])
    net = build_net(Regularization(settings.regularizer, model_label(settings.model)))
    fit = replicas_that_fit(replica_bytes(net, batch), device_for(settings.hardware.accelerator))
    if fit < len(jobs):
        log.info("%d jobs do not fit in memory together: packs of %d", len(jobs), fit)
    return min(fit, len(jobs))


def _train_part(jobs, folders, data, build_net, sweep_dir: Path):
    """One part of a pack: (its jobs' records, the interruption that stopped it or None)."""
    first = jobs[0].settings
    pack = RunFolder(sweep_dir).pack(pack_name(jobs))
    resume = pack.last_ckpt if pack.last_ckpt.is_file() else None
    members = []
    for job, folder in zip(jobs, folders, strict=True):
        if resume is None:
            set_aside_old_checkpoints(folder.checkpoints)
        plain = job.settings.model_dump(by_alias=True)
        start_extras(plain, job.settings.extras, folder.path)  # its config tree
        members.append(_member(job, folder, plain))
    result = train_stack(
        first,
        data.datamodule,
        data.task,
        members,
        build_net,
        pack,
        module_arguments(first, data),
        resume_ckpt=resume,
        what=f"{len(jobs)} jobs as stacked replicas ({', '.join(_folder_names(folders))})",
    )
    if result.interrupted is None:  # every job's files are written: the state has served
        shutil.rmtree(pack.path, ignore_errors=True)
        with contextlib.suppress(OSError):  # .packs/ itself once no pack is left in it
            pack.path.parent.rmdir()
    return result.records, result.interrupted


def _member(job: PackJob, folder: RunFolder, plain: dict) -> Member:
    settings = job.settings
    regularization = Regularization(settings.regularizer, model_label(settings.model))
    identity = run_identity(settings, plain, job.job, None)
    optimizer = optimizer_factory(settings.optimizer.factory_config())
    return Member(
        settings.seed, folder, identity, plain, regularization, optimizer, writes_hydra_files=False
    )


def _folder_names(folders: list[RunFolder]) -> list[str]:
    return [f"#{folder.path.name}" for folder in folders]
