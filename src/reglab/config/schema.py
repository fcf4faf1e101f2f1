"""The schema of a composed run config, and `validate_config`, which checks it up front.

Hydra already rejects unknown group options (`model=foo`) and overrides of keys that do not
exist. This catches the rest before anything is built or loaded: values out of range, wrong
types, keys added with `+` that nothing reads, and settings that contradict each other.
"""

import importlib
import inspect
from typing import Annotated, Any, Literal, Union

from omegaconf import DictConfig, OmegaConf
from pydantic import (
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from reglab import data, models
from reglab.config.base import Schema
from reglab.config.errors import ConfigError, format_validation_error
from reglab.data.protocol import ProtocolConfig
from reglab.extras.config import ExtrasConfig
from reglab.regularizers.config import RegularizerConfig


def _tagged_union(schemas: dict[str, type[Schema]]):
    """One schema per group option, told apart by their `name` key."""
    types = tuple(schemas.values())
    if len(types) == 1:
        return types[0]
    return Annotated[Union[types], Field(discriminator="name")]  # noqa: UP007


DatasetSchema = _tagged_union(data.SCHEMAS)
ModelSchema = _tagged_union(models.SCHEMAS)

PRECISIONS = ("64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")


class HardwareConfig(Schema):
    name: str
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"]
    devices: PositiveInt | Literal["auto"] | list[NonNegativeInt] = 1
    precision: Literal[PRECISIONS] = "32-true"
    # auto: one device; ddp_spawn: one process per device, started by this job's process
    # (see configs/hardware/ddp.yaml for why not Lightning's script-relaunching `ddp`)
    strategy: Literal["auto", "ddp_spawn", "ddp"] = "auto"
    compile: bool = False  # torch.compile the inner nn.Module
    # torch.use_deterministic_algorithms: on by default on CPU, so a resumed run matches
    deterministic: bool = False
    # CPU threads per process; None = this machine's cores divided among the processes that
    # share them (parallel joblib jobs, DDP ranks on the CPU): see reglab/threads.py
    threads: PositiveInt | None = None

    @model_validator(mode="after")
    def _devices_for_strategy(self):
        if self.strategy == "auto" and isinstance(self.devices, int) and self.devices > 1:
            raise ValueError(
                f"hardware.devices={self.devices} needs a multi-process strategy: "
                "hardware=ddp (GPUs) or hardware=ddp_cpu, or hardware.strategy=ddp_spawn"
            )
        return self

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_aliases(cls, value: Any) -> Any:
        # Lightning accepts 32 / "32" / 16 for 32-true / 16-mixed.
        return {"32": "32-true", "64": "64-true", "16": "16-mixed", "bf16": "bf16-mixed"}.get(
            str(value), value
        )


class OptimizerConfig(Schema):
    """Any torch optimizer, instantiated as a partial; its keyword arguments are checked."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    target: str = Field(alias="_target_")
    partial: Literal[True] = Field(alias="_partial_")
    lr: float = Field(gt=0)

    @model_validator(mode="after")
    def _known_arguments(self):
        extra = dict(self.model_extra or {})
        if "weight_decay" in extra:
            raise ValueError(
                "optimizer.weight_decay is not used: set regularizer.weight_decay "
                "(or choose regularizer=weight_decay), which decays weights but not biases"
            )
        module_name, _, class_name = self.target.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"optimizer._target_: cannot import {self.target!r}") from exc
        params = inspect.signature(cls).parameters
        allowed = [p for p in params if p not in ("self", "params")]
        unknown = [k for k in extra if k not in params]
        if unknown:
            raise ValueError(
                f"optimizer.{unknown[0]}: not an argument of {class_name}; "
                f"allowed: {', '.join(allowed)}"
            )
        momentum = extra.get("momentum")
        if momentum is not None and not 0 <= float(momentum) < 1:
            raise ValueError(f"optimizer.momentum must lie in [0, 1), got {momentum}")
        return self


# Trainer arguments reglab sets itself when it builds the Trainer.
TRAINER_ARGS_SET_BY_REGLAB = ("callbacks", "logger", "enable_progress_bar", "plugins")


class TrainerConfig(Schema):
    """Keyword arguments of lightning.Trainer, checked against its signature."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    target: str = Field(alias="_target_")
    max_epochs: PositiveInt

    @model_validator(mode="after")
    def _known_arguments(self):
        import difflib

        from lightning.pytorch import Trainer

        params = [p for p in inspect.signature(Trainer.__init__).parameters if p != "self"]
        for key in self.model_extra or {}:
            if key in TRAINER_ARGS_SET_BY_REGLAB:
                raise ValueError(f"trainer.{key}: set by reglab; configure it through its group")
            if key not in params:
                guess = difflib.get_close_matches(key, params, n=1)
                hint = f"did you mean trainer.{guess[0]}? " if guess else ""
                raise ValueError(
                    f"trainer.{key}: not an argument of lightning's Trainer; {hint}allowed: "
                    + ", ".join(p for p in params if p not in TRAINER_ARGS_SET_BY_REGLAB)
                )
        return self


class PathsConfig(Schema):
    root_dir: str
    data_dir: str
    cache_dir: str
    log_dir: str
    output_dir: str


class RunConfig(Schema):
    task_name: str
    seed: NonNegativeInt
    # seeds=N: N replicas (seeds seed..seed+N-1) trained together in one loop (reglab.replicas)
    seeds: PositiveInt = 1
    test: bool = True
    test_ckpt: Literal["auto", "best", "last"] = "auto"
    optimized_metric: str | None = None
    resume: bool = False
    ckpt_path: str | None = None
    dataset: DatasetSchema
    model: ModelSchema
    regularizer: RegularizerConfig
    optimizer: OptimizerConfig
    hardware: HardwareConfig
    trainer: TrainerConfig
    callbacks: dict[str, dict | None] | None = None
    logger: dict[str, dict | None] | None = None
    paths: PathsConfig
    tags: list[str] = Field(
        default_factory=list
    )  # to every logger, metrics.json and the sweep summary
    extras: ExtrasConfig = ExtrasConfig()
    protocol: ProtocolConfig = ProtocolConfig()

    @model_validator(mode="after")
    def _no_selection_on_test(self):
        es = self.regularizer.early_stopping
        if self.protocol.name == "d2l" and es is not None and es.monitor.startswith("val/"):
            raise ValueError(
                f"regularizer.early_stopping monitors {es.monitor}, but under protocol=d2l the "
                "validation split is the test set: early stopping would select on test data. "
                "Use protocol=default with early stopping"
            )
        return self

    @model_validator(mode="after")
    def _batch_divides_among_processes(self):
        devices = self.hardware.devices
        processes = len(devices) if isinstance(devices, list) else devices
        batch = getattr(self.dataset, "batch_size", None)
        multi = self.hardware.strategy != "auto" and isinstance(processes, int)
        if multi and batch and batch % processes:
            raise ValueError(
                f"dataset.batch_size={batch} is the global batch and must divide evenly "
                f"among hardware.devices={processes} processes: e.g. "
                f"dataset.batch_size={batch - batch % processes or processes}"
            )
        return self

    @model_validator(mode="after")
    def _conv_dropout_has_convs(self):
        rates = self.regularizer.conv_dropout
        convs = getattr(self.model, "channels", None)
        on = rates > 0 if isinstance(rates, (int, float)) else any(rates)
        if on and convs is None:
            raise ValueError(
                f"regularizer.conv_dropout is on but model={self.model.name} has no conv layers: "
                "set regularizer.conv_dropout=0 or choose model=lenet"
            )
        if isinstance(rates, list) and convs is not None and len(rates) != len(convs):
            raise ValueError(
                f"regularizer.conv_dropout has {len(rates)} values but model.channels has "
                f"{len(convs)} conv layers: give one per conv layer, or a single number for all"
            )
        return self

    @model_validator(mode="after")
    def _dropout_matches_layers(self):
        layers = getattr(self.model, "num_hidden_layers", None)
        for key in ("dropout", "noise", "dropconnect"):
            values = getattr(self.regularizer, key)
            if layers == 0 and (values if isinstance(values, (int, float)) else any(values)):
                raise ValueError(
                    f"regularizer.{key} is on but model={self.model.name} has no hidden layers "
                    f"to apply it to: set regularizer.{key}=0 or choose model=mlp"
                )
            if isinstance(values, list) and layers and len(values) != layers:
                raise ValueError(
                    f"regularizer.{key} has {len(values)} values but model.hidden has {layers} "
                    f"layers: give one per hidden layer, or a single number for all"
                )
        return self


def _allowed_keys(raw: dict) -> dict[str, list[str]]:
    """For each section, the keys its schema knows (to list them next to a typo)."""

    def fields(schema: type[Schema]) -> list[str]:
        return [f.alias or name for name, f in schema.model_fields.items()]

    allowed = {"": fields(RunConfig)}
    for section, schemas in (("dataset", data.SCHEMAS), ("model", models.SCHEMAS)):
        name = (raw.get(section) or {}).get("name")
        if name in schemas:
            allowed[section] = fields(schemas[name])
    for section, schema in (
        ("regularizer", RegularizerConfig),
        ("hardware", HardwareConfig),
        ("paths", PathsConfig),
        ("extras", ExtrasConfig),
        ("protocol", ProtocolConfig),
    ):
        allowed[section] = fields(schema)
    return allowed


def to_plain_dict(cfg: DictConfig) -> dict:
    """The resolved config as plain containers, without Hydra's own `hydra` node."""
    return {
        key: OmegaConf.to_container(cfg[key], resolve=True)
        if OmegaConf.is_config(cfg[key])
        else cfg[key]
        for key in cfg
        if key != "hydra"
    }


def validate_config(cfg: DictConfig | dict) -> RunConfig:
    """Checks a composed config; raises ConfigError naming each bad key and what is allowed."""
    raw = cfg if isinstance(cfg, dict) else to_plain_dict(cfg)
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        tags = {
            section: raw[section].get("name")
            for section in ("dataset", "model")
            if isinstance(raw.get(section), dict)
        }
        raise ConfigError(format_validation_error(exc, _allowed_keys(raw), tags)) from None
