"""Which jobs of a sweep train together as one pack of stacked replicas (hydra/launcher=stacked:
hydra_plugins.reglab_stacked_launcher). Torch-free: the launcher groups jobs before anything
is built.

Two jobs share a pack when their validated configs are equal but for the seed, their output
folders, and values that change neither a shape nor a code path, as declared where they act:
a regularizer's `per_replica` keys (reglab.regularizers.protocol; a rate may differ, its being
on or off may not) and the optimizer's (reglab.replicas.optimizer_traits). No list of keys
lives here.
"""

import json
from dataclasses import dataclass

from reglab.regularizers.kinds import REGULARIZERS
from reglab.regularizers.protocol import overrides
from reglab.replicas.checks import stacking_refusal
from reglab.replicas.optimizer_traits import per_replica_keys
from reglab.run_folder import rebase_paths

JOB_DIR = "<job>"
# jobs in one pack at most, unless hydra.launcher.max_pack says otherwise (measured:
# scripts/bench_sweeps.py; README "Sweeps in one pass")
DEFAULT_MAX_PACK = 32  # what a job's own output folder reads as in its pack key


@dataclass(frozen=True)
class Packing:
    """A job's pack key, or why it trains alone (key None)."""

    key: str | None
    alone_because: str | None = None


def packing(settings) -> Packing:
    """The pack key of a validated RunConfig (jobs with equal keys train as one pack)."""
    if settings.seeds > 1:
        return Packing(None, f"seeds={settings.seeds} (its seeds train stacked on their own)")
    if settings.ckpt_path is not None:
        return Packing(None, "ckpt_path is set")
    if not settings.dataset.target.startswith("reglab."):
        return Packing(None, f"dataset._target_={settings.dataset.target} is its own data module")
    if (reason := stacking_refusal(settings)) is not None:
        return Packing(None, reason)
    plain = settings.model_dump(mode="json", by_alias=True)
    plain = rebase_paths(plain, {str(settings.paths.output_dir): JOB_DIR})
    for key in ("seed", "tags", "resume"):
        plain.pop(key, None)
    regularizer = plain["regularizer"]
    for r in REGULARIZERS:
        for key in r.per_replica:
            regularizer[key] = r.pack_structure(key, regularizer[key])
    on = [r(settings.regularizer) for r in REGULARIZERS if r.is_on(settings.regularizer)]
    # a schedule scales the lr of every replica alike only for some schedules: lr stays equal
    scheduled = any(overrides(r, "scheduler") for r in on)
    for key in per_replica_keys(settings.optimizer.target):
        if key == "lr" and scheduled:
            continue
        plain["optimizer"].pop(key, None)
    return Packing(json.dumps(plain, sort_keys=True, default=str))


def differences(key: str, other: str, shown: int = 3) -> list[str]:
    """The dotted config keys whose values differ between two pack keys (at most `shown`):
    why two jobs do not train as one pack."""
    found: list[str] = []

    def walk(a, b, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for name in sorted(set(a) | set(b)):
                walk(a.get(name), b.get(name), f"{path}.{name}" if path else name)
        elif a != b:
            found.append(path)

    walk(json.loads(key), json.loads(other), "")
    return found[:shown]


def nearest_differences(key: str, others: list[str]) -> list[str]:
    """What the pack key differs in from the other pack key nearest to it (fewest keys)."""
    options = [differences(key, other, shown=1000) for other in others if other != key]
    return min(options, key=len)[:3] if options else []


def split(members: list, max_pack: int) -> list[list]:
    """A pack's members in packs of at most `max_pack`, as even as can be (10 in packs of 4:
    4, 3, 3)."""
    count = -(-len(members) // max(1, max_pack))
    size, extra = divmod(len(members), count)
    packs, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        packs.append(members[start:end])
        start = end
    return packs
