"""The settings of a run: the schema of a composed config, and `validate_config`, which checks
it up front. Everything a run builds is built from the validated settings.

Hydra already rejects unknown group options (`model=foo`) and overrides of keys that do not
exist. This catches the rest before anything is built or loaded: values out of range, wrong
types, keys added with `+` that nothing reads, keyword arguments a `_target_` class does not
take, and settings that contradict each other. Torch-free: a typo costs milliseconds.
"""

from typing import Any, Literal

from omegaconf import DictConfig, OmegaConf
from pydantic import (
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from reglab.app.logger_limits import logger_limit_problems
from reglab.app.outputs_config import CallbacksConfig, LoggersConfig
from reglab.config.base import Schema
from reglab.config.errors import ConfigError, format_validation_error
from reglab.config.signatures import signature_of
from reglab.config.targets import TargetConfig, check_keywords
from reglab.data import config as data_config
from reglab.data.config import DatasetSchema, ProtocolConfig
from reglab.extras.config import ExtrasConfig
from reglab.models import config as model_config
from reglab.models.config import ModelSchema, UserModelConfig
from reglab.module_config import OptimizerConfig
from reglab.regularizers.config import CONV, HIDDEN, RegularizerConfig, is_on
from reglab.regularizers.protocol import hooks_refusal
from reglab.run_folder import rebase_paths

# numpy's (and so Lightning's seed_everything) seeds: 0 .. 2**32 - 1
MAX_SEED = 2**32 - 1
PRECISIONS = ("64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")


class HardwareConfig(Schema):
    """Each option's values are written in its file (configs/hardware/)."""

    name: str
    accelerator: Literal["cpu", "gpu", "cuda", "mps", "auto"]
    devices: PositiveInt | Literal["auto"] | list[NonNegativeInt]
    precision: Literal[PRECISIONS]
    # auto: one device; ddp_spawn: one process per device, started by this job's process
    # (see configs/hardware/ddp.yaml for why not Lightning's script-relaunching `ddp`)
    strategy: Literal["auto", "ddp_spawn", "ddp"]
    compile: bool  # torch.compile the inner nn.Module
    # torch.use_deterministic_algorithms: on by default on CPU, so a resumed run matches
    deterministic: bool
    # CPU threads per process; None = this machine's cores divided among the processes that
    # share them (parallel joblib jobs, DDP ranks on the CPU): see reglab/threads.py
    threads: PositiveInt | None

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


# Trainer arguments reglab sets itself when it builds the Trainer.
TRAINER_ARGS_SET_BY_REGLAB = ("callbacks", "logger", "enable_progress_bar", "plugins")


class TrainerConfig(TargetConfig):
    """Keyword arguments of lightning.Trainer, checked against its signature."""

    max_epochs: PositiveInt

    @model_validator(mode="after")
    def _known_arguments(self):
        check_keywords(
            "trainer",
            self.target,
            ["max_epochs", *self.keywords()],
            reserved=TRAINER_ARGS_SET_BY_REGLAB,
        )
        return self

    def arguments(self) -> dict:
        """The Trainer's keyword arguments (without `_target_`)."""
        return {"max_epochs": self.max_epochs, **self.keywords()}


class PathsConfig(Schema):
    root_dir: str
    data_dir: str
    cache_dir: str
    log_dir: str
    output_dir: str


class RunConfig(Schema):
    """The whole run. Every value is written in the config files (train.yaml and the groups'
    options, each key once): the schemas say what is allowed, not what is chosen."""

    task_name: str
    seed: NonNegativeInt = Field(le=MAX_SEED)
    # seeds=N: N replicas (seeds seed..seed+N-1) trained together in one loop (reglab.replicas)
    seeds: PositiveInt
    test: bool
    test_ckpt: Literal["auto", "best", "last"]
    optimized_metric: str | None
    resume: bool
    ckpt_path: str | None
    dataset: DatasetSchema
    model: ModelSchema
    regularizer: RegularizerConfig
    optimizer: OptimizerConfig
    hardware: HardwareConfig
    trainer: TrainerConfig
    callbacks: CallbacksConfig | None
    logger: LoggersConfig | None
    paths: PathsConfig
    tags: list[str]  # to every logger, metrics.json and the sweep summary
    extras: ExtrasConfig
    protocol: ProtocolConfig

    def moved_to(self, run_dir) -> "RunConfig":
        """These settings for a run that goes on in `run_dir` (a resumed run's own folder):
        every path under this invocation's output folder (checkpoints, loggers, the trainer's
        root) moves into `run_dir`."""
        moves = {str(self.paths.output_dir): str(run_dir)}
        return RunConfig.model_validate(rebase_paths(self.model_dump(by_alias=True), moves))

    @model_validator(mode="after")
    def _replica_seeds_in_range(self):
        last = self.seed + self.seeds - 1
        if self.seeds > 1 and last > MAX_SEED:
            raise ValueError(
                f"seeds={self.seeds} from seed={self.seed} runs to seed {last}, past the largest "
                f"seed, {MAX_SEED} (2**32 - 1). Fix: seed={MAX_SEED - self.seeds + 1} or less"
            )
        return self

    @model_validator(mode="after")
    def _loggers_take_the_tags(self):
        problems = logger_limit_problems(self.logger, list(self.tags))
        if problems:
            raise ValueError("\n  - ".join(problems))
        return self

    @model_validator(mode="after")
    def _no_selection_on_test(self):
        es = self.regularizer.early_stopping
        selects = es is not None and es.monitor.startswith(("val/", "test/"))
        if self.protocol.name == "d2l" and selects:
            raise ValueError(
                f"regularizer.early_stopping monitors {es.monitor}, but protocol=d2l has no "
                "validation split (the test set is evaluated every epoch, as test/*): early "
                "stopping would select on test data. Use protocol=default with early stopping"
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
        if isinstance(self.model, UserModelConfig):
            return self  # its conv layers are known once built (reglab.regularizers.hooks)
        convs = self.model.num_convs
        if is_on(rates) and convs is None:
            raise ValueError(
                f"regularizer.conv_dropout is on but model={self.model.label} has no conv "
                "layers: set regularizer.conv_dropout=0 or choose model=lenet"
            )
        if isinstance(rates, list) and convs is not None and len(rates) != convs:
            raise ValueError(
                f"regularizer.conv_dropout has {len(rates)} values but model.channels has "
                f"{convs} conv layers: give one per conv layer, or a single number for all"
            )
        return self

    @model_validator(mode="after")
    def _dropout_matches_layers(self):
        layers = self.model.num_hidden_layers  # None: a user's model, checked when built
        for key in HIDDEN:
            values = getattr(self.regularizer, key)
            if layers == 0 and is_on(values):
                raise ValueError(
                    f"regularizer.{key} is on but model={self.model.label} has no hidden layers "
                    f"to apply it to: set regularizer.{key}=0 or choose model=mlp"
                )
            if isinstance(values, list) and layers and len(values) != layers:
                raise ValueError(
                    f"regularizer.{key} has {len(values)} values but model.hidden has {layers} "
                    f"layers: give one per hidden layer, or a single number for all"
                )
        return self

    @model_validator(mode="after")
    def _user_model_takes_hooks(self):
        if not isinstance(self.model, UserModelConfig):
            return self
        for key in (*HIDDEN, *CONV):
            if is_on(getattr(self.regularizer, key)) and not signature_of(
                self.model.target
            ).accepts("hooks"):
                layers = "conv" if key in CONV else "hidden"
                model = f"model._target_={self.model.target}"
                raise ValueError(hooks_refusal(key, model, layers))
        return self


def _allowed_keys(raw: dict) -> dict[str, list[str]]:
    """For each section, the keys its schema knows (to list them next to a typo)."""

    def fields(schema: type[Schema]) -> list[str]:
        return [f.alias or name for name, f in schema.model_fields.items()]

    allowed = {"": fields(RunConfig)}
    for section, groups in (("dataset", data_config), ("model", model_config)):
        schema = groups.SCHEMAS.schema_for((raw.get(section) or {}).get("_target_"))
        if schema.model_config.get("extra") == "forbid":
            allowed[section] = fields(schema)
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
        # the union member pydantic puts into an error's location: the `_target_`, or "user"
        tags = {}
        for section, groups in (("dataset", data_config), ("model", model_config)):
            node = raw.get(section)
            if isinstance(node, dict):
                tags[section] = groups.SCHEMAS.tag(node)
        raise ConfigError(format_validation_error(exc, _allowed_keys(raw), tags)) from None
