"""Each default is written in one place: a key's value in the base config's YAML files
(train.yaml and each group's default option), or a default in its pydantic schema, never both.

Two places drift apart: one is edited, the other still says the old value, and which one wins
depends on how the config was made (composed by Hydra, or a schema built in Python). The YAML
must hold every key a documented override sets (`trainer.max_epochs=3` needs the key there),
so the schemas say what is allowed and the files what is chosen.
"""

import types
import typing
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from reglab.app.evaluate import EvalConfig
from reglab.app.settings import RunConfig
from reglab.config import CONFIG_DIR
from reglab.config.targets import TargetSchemas
from reglab.data import config as data_config
from reglab.models import config as model_config

GROUP_SCHEMAS: dict[str, TargetSchemas] = {
    "dataset": data_config.SCHEMAS,
    "model": model_config.SCHEMAS,
}


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


def option_sources(group: str, name: str) -> list[tuple[str, dict]]:
    """(file, its values) of an option and of the options its `defaults` list names."""
    values = _load(CONFIG_DIR / group / f"{name}.yaml")
    sources = []
    for parent in values.pop("defaults", None) or []:
        if isinstance(parent, str) and parent != "_self_":
            sources += option_sources(group, parent)
    return [*sources, (f"{group}/{name}.yaml", values)]


def _schema_of(annotation, value) -> type[BaseModel] | None:
    """The schema a mapping `value` is validated by, from a field's annotation."""
    for schemas in GROUP_SCHEMAS.values():
        if annotation == schemas.union:
            return schemas.schema_for(value.get("_target_"))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args:
        members = [a for a in args if a is not type(None)]
        return _schema_of(members[0], value) if len(members) == 1 else None
    return None


def written_twice(values: dict, source: str, schema: type[BaseModel], prefix: str) -> list[str]:
    """One line per key of `values` (a YAML file's mapping) whose schema field has a default:
    `<key>: <file> and <Schema>.<field>`. A mapping is checked key by key inside."""
    fields = {(f.alias or name): (name, f) for name, f in schema.model_fields.items()}
    problems = []
    for key, value in values.items():
        if key not in fields:  # a keyword argument of a `_target_` class: no schema default
            continue
        name, field = fields[key]
        inner = _schema_of(field.annotation, value) if isinstance(value, dict) else None
        if inner is not None:
            problems += written_twice(value, source, inner, f"{prefix}{key}.")
        elif not field.is_required():
            problems.append(
                f"{prefix}{key}: default written in {source} and in {schema.__name__}.{name}"
            )
    return problems


def base_sources(config: str) -> dict[str, list[tuple[str, dict, str]]]:
    """By group: (file, the mapping it writes, the key prefix) of the base config `config`
    (train or eval) and of each group's default option; "" for the file's own keys."""
    entry = _load(CONFIG_DIR / f"{config}.yaml")
    groups = {}
    for item in entry.pop("defaults"):
        if isinstance(item, dict):
            ((group, name),) = item.items()
            # reglab_defaults: the regularizer schemas' own defaults, handed to Hydra (not YAML)
            skipped = ("hydra", "optional ", "override ", "reglab_defaults")
            if name is not None and not group.startswith(skipped):
                groups[group] = name
    entry.pop("hydra", None)
    sources = {"": [(f"{config}.yaml", entry, "")]}
    for group, name in groups.items():
        sources[group] = [(file, values, group) for file, values in option_sources(group, name)]
    return sources


def duplicates(config: str, schema: type[BaseModel], group: str) -> list[str]:
    sources = base_sources(config)
    found = []
    for source, values, section in sources[group]:
        if section:  # a group's option: the mapping under `section`
            values = {section: values}
        elif group == "":  # train.yaml's `regularizer:` block is the regularizer group's
            values = {k: v for k, v in values.items() if k != "regularizer"}
        found += written_twice(values, source, schema, "")
    if group == "regularizer":  # train.yaml's block holds the group's base values
        found += written_twice(
            {"regularizer": sources[""][0][1].get("regularizer") or {}}, "train.yaml", schema, ""
        )
    return found


TRAIN_GROUPS = [group for group in base_sources("train") if group != "regularizer"]


@pytest.mark.parametrize("group", TRAIN_GROUPS, ids=lambda g: g or "train.yaml")
def test_each_default_of_the_train_config_is_written_once(group):
    problems = duplicates("train", RunConfig, group)
    assert not problems, "\n".join(problems)


def test_each_regularizer_default_is_written_once():
    problems = duplicates("train", RunConfig, "regularizer")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("group", list(base_sources("eval")), ids=lambda g: g or "eval.yaml")
def test_each_default_of_the_eval_config_is_written_once(group):
    problems = duplicates("eval", EvalConfig, group)
    assert not problems, "\n".join(problems)


def test_a_default_written_twice_is_reported_with_both_places():
    """Planted duplicates: schemas that also set hardware.threads and model.activation."""
    from reglab.app.settings import HardwareConfig

    class Hardware(HardwareConfig):
        threads: int | None = None

    class MLP(model_config.MLPConfig):
        activation: str = "relu"

    class Planted(RunConfig):
        hardware: Hardware
        model: MLP

    assert duplicates("train", Planted, "hardware") == [
        "hardware.threads: default written in hardware/cpu.yaml and in Hardware.threads"
    ]
    assert duplicates("train", Planted, "model") == [
        "model.activation: default written in model/mlp.yaml and in MLP.activation"
    ]
    assert duplicates("train", RunConfig, "hardware") == []
