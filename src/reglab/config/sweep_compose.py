"""A sweep's job configs, each composed by Hydra once per kind of job (hydra/launcher=stacked).

Hydra composes every job's config from its YAML files: the basic sweeper once to check that
the batch composes (`validate_batch_is_legal`), the launcher again to run it, ~0.12 s each
(reading and merging ~30 files, building the defaults tree). A sweep's jobs mostly differ only
in the values of plain keys (`seed=1`, `regularizer.weight_decay=0.01`): everything else of
their configs is the same. `SweepComposer` composes the first job of each kind with Hydra's own
`load_sweep_config` and makes the others from a copy of it, setting their values as Hydra sets
them (`OmegaConf.update` on the struct config), then their override lists and
`hydra.job.override_dirname`, as Hydra writes them. Anything else (a config group, `+key`,
`~key`, `key@package`, a sweep, a dict or list value, keys that overlap, a value that does
not apply) is composed by Hydra itself, so its errors are Hydra's.
`tests/test_sweep_compose.py` holds the configs equal to Hydra's own. Torch-free.
"""

import copy
import pickle
from collections.abc import Sequence

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf, read_write

try:  # Hydra's own rendering of `hydra.job.override_dirname` (private: no public API has it)
    from hydra._internal.config_loader_impl import get_overrides_dirname
except ImportError:  # a Hydra that moved it: every job is composed by Hydra (compose_once)
    get_overrides_dirname = None

SCALARS = (str, int, float, bool, type(None))


class SweepComposer:
    """A Hydra config loader whose `load_sweep_config` composes each kind of job once; every
    other attribute is the wrapped loader's."""

    def __init__(self, loader) -> None:
        self.loader = loader
        self.composed = 0  # configs Hydra composed (the others were copies)
        self._master: DictConfig | None = None
        self._groups: set[str] = set()  # config groups seen in a composed job's choices
        self._references: dict[tuple, tuple[DictConfig, list[Override]]] = {}
        self._parser = OverridesParser.create()

    def __getattr__(self, name: str):
        if name == "loader":  # not set yet (a copy being unpickled): no endless lookup
            raise AttributeError(name)
        return getattr(self.loader, name)

    def load_sweep_config(
        self, master_config: DictConfig, sweep_overrides: Sequence[str]
    ) -> DictConfig:
        if master_config is not self._master:  # another sweep: nothing composed holds
            self._master, self._groups, self._references = master_config, set(), {}
        lines = [*OmegaConf.to_container(master_config.hydra.overrides.hydra), *sweep_overrides]
        try:
            parsed = self._parser.parse_overrides(lines)
        except Exception:  # Hydra says what is wrong
            parsed = None
        if parsed is not None and (found := self._references.get(self._kind(parsed))):
            config = self._copied(*found, parsed, master_config)
            if config is not None:
                return config
        config = self.loader.load_sweep_config(master_config, list(sweep_overrides))
        self.composed += 1
        self._groups |= set(config.hydra.runtime.choices)
        if parsed is not None:
            self._references.setdefault(self._kind(parsed), (copy.deepcopy(config), parsed))
        return config

    def _kind(self, parsed: list[Override]) -> tuple:
        """Jobs of one kind differ only in the values of plain keys."""
        return tuple(
            ("value", o.key_or_group) if self._plain(o) else ("fixed", o.input_line) for o in parsed
        )

    def _plain(self, override: Override) -> bool:
        """A plain key's value, which Hydra sets after composing (no group, no +/~, no @)."""
        key = override.key_or_group
        return (
            override.type == OverrideType.CHANGE
            and override.package is None
            and not override.is_sweep_override()
            and not override.is_hydra_override()
            and "/" not in key
            and key not in self._groups
            and isinstance(override.value(), SCALARS)
        )

    def _copied(self, reference, reference_overrides, parsed, master_config) -> DictConfig | None:
        """The reference's copy with this job's values, or None where Hydra must compose."""
        changed = [
            o
            for o, r in zip(parsed, reference_overrides, strict=True)
            if o.input_line != r.input_line
        ]
        others = [o.key_or_group for o in parsed if o.key_or_group not in self._groups]
        for override in changed:
            key = override.key_or_group
            overlapping = [
                k for k in others if k == key or k.startswith(f"{key}.") or key.startswith(f"{k}.")
            ]
            if len(overlapping) != 1:  # set twice, or inside another set value: order matters
                return None
        # a pickled copy: what deepcopy makes of an OmegaConf tree (flags, types, parents), in
        # a third of its time (~6 ms against ~18 for a reglab job's config)
        config = pickle.loads(pickle.dumps(reference, protocol=pickle.HIGHEST_PROTOCOL))
        try:
            for override in changed:
                OmegaConf.update(config, override.key_or_group, override.value(), merge=True)
        except Exception:  # Hydra composes it and raises its own error
            return None
        app_overrides = [o for o in parsed if not o.is_hydra_override()]
        with read_write(config.hydra):
            config.hydra.overrides.hydra = [o.input_line for o in parsed if o.is_hydra_override()]
            config.hydra.overrides.task = [o.input_line for o in app_overrides]
            job = config.hydra.job
            job.override_dirname = get_overrides_dirname(
                overrides=app_overrides,
                kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep,
                exclude_keys=job.config.override_dirname.exclude_keys,
            )
        # as load_sweep_config: the master's resolved values (`now`, the run token) hold
        OmegaConf.copy_cache(from_config=master_config, to_config=config)
        return config


def compose_once(hydra_context) -> SweepComposer:
    """Makes the sweep's shared config loader a SweepComposer (the sweeper's check of a batch
    and the launcher both compose through it); returns it. Hydra's own loader where this
    Hydra lacks what a copy needs (slower, the same configs)."""
    if get_overrides_dirname is None:
        return hydra_context.config_loader
    if not isinstance(hydra_context.config_loader, SweepComposer):
        hydra_context.config_loader = SweepComposer(hydra_context.config_loader)
    return hydra_context.config_loader
